//! Reads the configuration directory: `monban.toml`, every `realms/*.toml`, the environment
//! overrides, and the at-rest encryption key. Problems from all files are reported together.

use monban_core::config::{
    parse_realms, ConfigProblem, ConfigReport, RealmConfig, ServerConfig, ServerOverrides,
};
use monban_store::sealed::SecretBox;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything Monban runs with.
pub struct Settings {
    pub config_dir: PathBuf,
    pub server: ServerConfig,
    /// By name, sorted.
    pub realms: BTreeMap<String, RealmConfig>,
}

impl Settings {
    /// The configuration directory: `--config-dir`, else `$MONBAN_CONFIG_DIR`, else `config`.
    pub fn load(config_dir: &Path) -> Result<Settings, ConfigReport> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let overrides = ServerOverrides {
            database_url: env("MONBAN_DATABASE_URL"),
            listen: env("MONBAN_LISTEN"),
            public_url: env("MONBAN_PUBLIC_URL"),
        };
        Self::load_with(config_dir, &overrides, &env)
    }

    pub fn load_with(
        config_dir: &Path,
        overrides: &ServerOverrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigReport> {
        let mut problems = Vec::new();
        let server_file = config_dir.join("monban.toml");
        let server = match std::fs::read_to_string(&server_file) {
            Ok(text) => {
                match ServerConfig::parse(&server_file.display().to_string(), &text, overrides) {
                    Ok(server) => Some(server),
                    Err(found) => {
                        problems.extend(found);
                        None
                    }
                }
            }
            Err(error) => {
                problems.push(file_problem(&server_file, format!("cannot read: {error}")));
                None
            }
        };
        let realms_dir = config_dir.join("realms");
        let mut files = Vec::new();
        match std::fs::read_dir(&realms_dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect();
                paths.sort();
                for path in paths {
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    match std::fs::read_to_string(&path) {
                        Ok(text) => files.push((path.display().to_string(), stem, text)),
                        Err(error) => {
                            problems.push(file_problem(&path, format!("cannot read: {error}")))
                        }
                    }
                }
            }
            Err(error) => problems.push(file_problem(
                &realms_dir,
                format!("cannot read the realms directory: {error}"),
            )),
        }
        let realms = match parse_realms(&files, env) {
            Ok(mut realms) => {
                for realm in &mut realms {
                    if let Err(problem) = read_terms(config_dir, realm) {
                        problems.push(problem);
                    }
                }
                realms
            }
            Err(found) => {
                problems.extend(found);
                Vec::new()
            }
        };
        if problems.is_empty() && realms.is_empty() {
            problems.push(file_problem(
                &realms_dir,
                "no realm files (realms/<name>.toml) found".into(),
            ));
        }
        match server {
            Some(server) if problems.is_empty() => Ok(Settings {
                config_dir: config_dir.to_path_buf(),
                server,
                realms: realms.into_iter().map(|r| (r.name.clone(), r)).collect(),
            }),
            _ => Err(ConfigReport { problems }),
        }
    }

    /// The at-rest encryption key, from the variable or file `monban.toml` names.
    pub fn encryption_key(&self) -> Result<SecretBox, ConfigReport> {
        let source = &self.server.encryption_key;
        let file_name = self.config_dir.join("monban.toml").display().to_string();
        let problem = |message: String| ConfigReport {
            problems: vec![ConfigProblem {
                file: file_name.clone(),
                line: None,
                field: "encryption_key".into(),
                message,
            }],
        };
        let encoded = if let Some(variable) = &source.env {
            std::env::var(variable).map_err(|_| problem(format!("${variable} is not set")))?
        } else if let Some(path) = &source.file {
            if !path.exists() && source.create_if_missing {
                write_new_key(path)
                    .map_err(|e| problem(format!("cannot create {}: {e}", path.display())))?;
            }
            std::fs::read_to_string(path)
                .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?
        } else {
            return Err(problem("name an `env` variable or a `file`".into()));
        };
        SecretBox::from_base64(&encoded).map_err(|e| problem(e.to_string()))
    }
}

/// Reads the text of the realm's `[terms] file` (relative to the configuration directory).
fn read_terms(config_dir: &Path, realm: &mut RealmConfig) -> Result<(), ConfigProblem> {
    let Some(terms) = &mut realm.terms else {
        return Ok(());
    };
    let problem = |message: String| ConfigProblem {
        file: config_dir
            .join("realms")
            .join(format!("{}.toml", realm.name))
            .display()
            .to_string(),
        line: None,
        field: "terms.file".into(),
        message,
    };
    let path = config_dir.join(&terms.file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Err(problem(format!("{} is empty", path.display())));
    }
    terms.text = text;
    Ok(())
}

fn file_problem(path: &Path, message: String) -> ConfigProblem {
    ConfigProblem {
        file: path.display().to_string(),
        line: None,
        field: "-".into(),
        message,
    }
}

fn write_new_key(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let key = SecretBox::generate_key_base64().map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{key}")
}
