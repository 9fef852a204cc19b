//! `monban.toml`: where Monban listens, how it is reached, its database, mail and secrets.

use super::{deserialize, ConfigProblem, FieldPath, ProblemSink};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Socket address to bind, e.g. `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URL members and clients reach Monban at; issuers are `{public_url}/realms/{realm}`.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `sqlite://path/to/file.db` (the default, embedded) or `postgres://…`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Directory holding the themes (`<dir>/<theme>/login/*.html`, messages, css).
    #[serde(default = "default_themes_dir")]
    pub themes_dir: PathBuf,
    #[serde(default)]
    pub encryption_key: EncryptionKeySource,
    #[serde(default)]
    pub password_hashing: Argon2Settings,
    pub smtp: Option<SmtpConfig>,
    /// For demos and development only: instead of sending mail, write each one as a `.eml`
    /// file into this directory. Not together with `[smtp]`.
    pub mail_drop_dir: Option<PathBuf>,
    /// Load balancers and reverse proxies in front of Monban (addresses or CIDR ranges): only
    /// from them is `X-Forwarded-For` believed, to learn the client's address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub rate_limits: RateLimits,
}

/// What one client network may ask for in a while, counted across all instances. A network
/// is an IPv4 address or an IPv6 /64 (what one household or office is given).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Form posts to the pages of a login (the password, codes, set-up pages) per minute; 0
    /// turns the limit off. Members of one employer often share one office address, so the
    /// default leaves room for a busy morning while stopping a password spray across accounts
    /// (each account's own lockout stops guessing at one account).
    #[serde(default = "default_login_posts_per_minute")]
    pub login_posts_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_posts_per_minute: default_login_posts_per_minute(),
        }
    }
}

/// Where the key that encrypts secrets at rest (private signing keys, OTP secrets) comes from.
/// The key is 32 random bytes, written as base64.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKeySource {
    /// Name of an environment variable holding the key (preferred in production).
    pub env: Option<String>,
    /// A file holding the key.
    pub file: Option<PathBuf>,
    /// Create `file` with a fresh key when it does not exist (for single-instance installs and
    /// the demo; several instances must share one key, so give them the same file or variable).
    #[serde(default)]
    pub create_if_missing: bool,
}

/// argon2id cost. The defaults are OWASP's recommendation (m=19 MiB, t=2, p=1).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Argon2Settings {
    #[serde(default = "default_memory_kib")]
    pub memory_kib: u32,
    #[serde(default = "default_iterations")]
    pub iterations: u32,
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    /// Hashes computed at once; 0 means one per CPU core. Bounds memory under a burst.
    #[serde(default)]
    pub max_concurrent: usize,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: default_memory_kib(),
            iterations: default_iterations(),
            parallelism: default_parallelism(),
            max_concurrent: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Environment variable holding the SMTP password (never the password itself).
    pub password_env: Option<String>,
    /// Default sender when a realm names none.
    pub from: String,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_public_url() -> String {
    "http://localhost:8080".into()
}
fn default_database_url() -> String {
    "sqlite://data/monban.db".into()
}
fn default_themes_dir() -> PathBuf {
    "themes".into()
}
fn default_memory_kib() -> u32 {
    19 * 1024
}
fn default_iterations() -> u32 {
    2
}
fn default_parallelism() -> u32 {
    1
}
fn default_smtp_port() -> u16 {
    587
}
fn default_login_posts_per_minute() -> u32 {
    300
}

/// An address or CIDR range of `trusted_proxies`; a bare address is a range of one.
fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

/// Values from the environment that take precedence over the file.
#[derive(Debug, Clone, Default)]
pub struct ServerOverrides {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
}

impl ServerConfig {
    /// Parses and validates `monban.toml`; `file` is the name used in problem reports.
    pub fn parse(
        file: &str,
        text: &str,
        overrides: &ServerOverrides,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut config: ServerConfig = deserialize(file, text).map_err(|p| vec![p])?;
        if let Some(url) = &overrides.database_url {
            config.database_url = url.clone();
        }
        if let Some(listen) = &overrides.listen {
            config.listen = listen.clone();
        }
        if let Some(public_url) = &overrides.public_url {
            config.public_url = public_url.clone();
        }
        config.public_url = config.public_url.trim_end_matches('/').to_string();
        let mut sink = ProblemSink::new(file, text);
        config.validate(&mut sink);
        let problems = sink.finish();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    fn validate(&self, sink: &mut ProblemSink<'_>) {
        let root = FieldPath::root();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            sink.report(
                &root.key("listen"),
                "must be an address and port, e.g. 127.0.0.1:8080",
            );
        }
        match url::Url::parse(&self.public_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
            _ => sink.report(
                &root.key("public_url"),
                "must be an http(s) URL without a query",
            ),
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            sink.report(
                &root.key("database_url"),
                "must start with sqlite:// (embedded) or postgres:// (PostgreSQL)",
            );
        }
        let key = root.key("encryption_key");
        if self.encryption_key.env.is_none() && self.encryption_key.file.is_none() {
            sink.report(
                &key,
                "name an `env` variable or a `file` holding the 32-byte key",
            );
        }
        let hashing = root.key("password_hashing");
        if self.password_hashing.memory_kib < 8 * 1024 {
            sink.report(&hashing.key("memory_kib"), "must be at least 8192 (8 MiB)");
        }
        if self.password_hashing.iterations == 0 {
            sink.report(&hashing.key("iterations"), "must be at least 1");
        }
        if self.password_hashing.parallelism == 0 {
            sink.report(&hashing.key("parallelism"), "must be at least 1");
        }
        if self.smtp.is_some() && self.mail_drop_dir.is_some() {
            sink.report(
                &root.key("mail_drop_dir"),
                "cannot be used together with [smtp]: choose one way for mail to leave",
            );
        }
        for (index, proxy) in self.trusted_proxies.iter().enumerate() {
            if parse_network(proxy).is_none() {
                sink.report(
                    &root.key("trusted_proxies").index(index),
                    "must be an IP address or a CIDR range, e.g. 10.0.0.0/8",
                );
            }
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                sink.report(&root.key("smtp").key("host"), "must not be empty");
            }
            if !smtp.from.contains('@') {
                sink.report(&root.key("smtp").key("from"), "must be a mail address");
            }
        }
    }

    /// The issuer identifier of a realm.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.public_url, realm)
    }

    /// The networks of `trusted_proxies` (all valid once parsed).
    pub fn trusted_proxy_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_network(p))
            .collect()
    }

    /// Whether cookies must be marked `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let text = "[encryption_key]\nenv = \"KEY\"\n";
        let overrides = ServerOverrides {
            listen: Some("0.0.0.0:9000".into()),
            ..Default::default()
        };
        let config = ServerConfig::parse("monban.toml", text, &overrides).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.database_url, "sqlite://data/monban.db");
        assert_eq!(config.password_hashing.memory_kib, 19456);
        assert_eq!(config.issuer("demo"), "http://localhost:8080/realms/demo");
        assert_eq!(config.rate_limits.login_posts_per_minute, 300);
        assert!(config.trusted_proxy_networks().is_empty());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let text = "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\"]\n\
                    [encryption_key]\nenv = \"KEY\"\n";
        let config = ServerConfig::parse("monban.toml", text, &Default::default()).unwrap();
        let networks: Vec<String> = config
            .trusted_proxy_networks()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(networks, ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]);

        let text = "trusted_proxies = [\"10.0.0.0/8\", \"the balancer\"]\n\
                    [encryption_key]\nenv = \"KEY\"\n";
        let problems = ServerConfig::parse("monban.toml", text, &Default::default()).unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("monban.toml:1: trusted_proxies[1]:")),
            "{rendered:?}"
        );
    }

    #[test]
    fn problems_name_line_and_field() {
        let text =
            "listen = \"nowhere\"\ndatabase_url = \"mysql://x\"\n[encryption_key]\nenv = \"K\"\n";
        let problems = ServerConfig::parse("monban.toml", text, &Default::default()).unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("monban.toml:1: listen:")),
            "{rendered:?}"
        );
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("monban.toml:2: database_url:")),
            "{rendered:?}"
        );
    }

    #[test]
    fn unknown_field_is_located() {
        let text = "[encryption_key]\nenv = \"K\"\nfiel = \"x\"\n";
        let problems = ServerConfig::parse("monban.toml", text, &Default::default()).unwrap_err();
        assert_eq!(problems[0].line, Some(3));
        assert_eq!(problems[0].field, "fiel");
    }
}
