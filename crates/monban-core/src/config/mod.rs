//! Configuration files: `monban.toml` (the server) and `realms/<realm>.toml` (one health
//! society each). Parsing turns text into validated values or a list of [`ConfigProblem`]s, each
//! naming the file, the line and the field, so an operator can fix every mistake in one pass.

mod locate;
mod realm;
mod second_factors;
mod server;

pub use locate::FieldPath;
pub use realm::{
    parse_realms, ClientAuthentication, ClientConfig, Flows, LockoutPolicy, RealmConfig, RealmMail,
    SigningAlgorithm, TermsConfig, TokenLifetimes, SUPPORTED_LOCALES,
};
pub use second_factors::{
    OtpAlgorithm, OtpAppPolicy, OtpMailPolicy, PasskeyPolicy, SecondFactorMethod, SecondFactors,
    UserVerification,
};
pub use server::{
    Argon2Settings, EncryptionKeySource, RateLimits, ServerConfig, ServerOverrides, SmtpConfig,
    SmtpSecurity,
};

use std::fmt;

/// One mistake in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    /// 1-based line, when the mistake can be placed.
    pub line: Option<usize>,
    /// Dotted path of the field, e.g. `clients[0].redirect_uris[1]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: {}: {}",
                self.file, line, self.field, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.message),
        }
    }
}

/// Every problem found in a set of configuration files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigReport {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.problems.len())?;
        for problem in &self.problems {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// Collects problems for one file while validation walks it, and places each on its line.
pub(crate) struct ProblemSink<'a> {
    file: &'a str,
    text: &'a str,
    document: Option<toml_edit::Document<&'a str>>,
    problems: Vec<ConfigProblem>,
}

impl<'a> ProblemSink<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Self {
            file,
            text,
            document: toml_edit::Document::parse(text).ok(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, path: &FieldPath, message: impl Into<String>) {
        let line = self
            .document
            .as_ref()
            .and_then(|doc| locate::byte_offset(doc, path))
            .map(|offset| locate::line_of(self.text, offset));
        self.problems.push(ConfigProblem {
            file: self.file.to_string(),
            line,
            field: path.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn finish(self) -> Vec<ConfigProblem> {
        self.problems
    }
}

/// Parses TOML into `T`, turning a syntax or type error into a located problem.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, ConfigProblem> {
    toml::from_str(text).map_err(|error| {
        let (line, field) = match error.span() {
            Some(span) => {
                let line = locate::line_of(text, span.start);
                (
                    Some(line),
                    locate::key_on_line(text, line).unwrap_or_else(|| "-".into()),
                )
            }
            None => (None, "-".into()),
        };
        ConfigProblem {
            file: file.to_string(),
            line,
            field,
            message: error.message().trim().to_string(),
        }
    })
}
