//! The mail templates of every theme: `<theme>/email/<kind>/{subject,body}_<locale>.txt` and
//! `body_<locale>.html`, plus shared files directly in `<theme>/email/` (layouts) that the
//! kinds' templates may extend or include under the name `<theme>/email/<file>`.

use crate::{MailError, MailKind};
use monban_core::config::SUPPORTED_LOCALES;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The theme whose mails stand in for a theme that has none of its own.
const FALLBACK_THEME: &str = "default";

/// A rendered mail, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// One line, trimmed.
    pub subject: String,
    pub text: String,
    /// Autoescaped: context values cannot inject markup.
    pub html: String,
}

pub(crate) struct EmailTemplates {
    tera: tera::Tera,
    /// Every theme directory, with or without mails of its own.
    themes: BTreeSet<String>,
}

fn file_names(locale: &str) -> [String; 3] {
    [
        format!("subject_{locale}.txt"),
        format!("body_{locale}.txt"),
        format!("body_{locale}.html"),
    ]
}

fn kind_prefix(theme: &str, kind: MailKind) -> String {
    format!("{theme}/email/{kind}")
}

impl EmailTemplates {
    /// Loads and parses every theme's mail templates, reporting every missing file at once.
    /// Every theme must be able to send every kind (itself or through `default`).
    pub(crate) fn load(themes_dir: &Path) -> Result<Self, MailError> {
        let entries = std::fs::read_dir(themes_dir).map_err(|e| {
            MailError::Config(format!("themes directory {}: {e}", themes_dir.display()))
        })?;
        let mut themes = BTreeSet::new();
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                themes.insert(entry.file_name().to_string_lossy().to_string());
            }
        }

        let mut problems = Vec::new();
        let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
        let mut kinds_present = BTreeSet::new();
        for theme in &themes {
            let email_dir = themes_dir.join(theme).join("email");
            let Ok(entries) = std::fs::read_dir(&email_dir) else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let name = entry.file_name().to_string_lossy().to_string();
                let path = entry.path();
                if path.is_file() && (name.ends_with(".html") || name.ends_with(".txt")) {
                    files.push((path, Some(format!("{theme}/email/{name}"))));
                    continue;
                }
                if !path.is_dir() {
                    continue;
                }
                let Some(kind) = MailKind::ALL.into_iter().find(|k| k.as_str() == name) else {
                    problems.push(format!(
                        "{}: not a mail kind (expected one of {})",
                        path.display(),
                        MailKind::ALL.map(MailKind::as_str).join(", ")
                    ));
                    continue;
                };
                for locale in SUPPORTED_LOCALES {
                    for file in file_names(locale) {
                        let file_path = path.join(&file);
                        if file_path.is_file() {
                            files.push((
                                file_path,
                                Some(format!("{}/{file}", kind_prefix(theme, kind))),
                            ));
                        } else {
                            problems.push(format!("{} is missing", file_path.display()));
                        }
                    }
                }
                kinds_present.insert((theme.clone(), kind.as_str()));
            }
        }
        for theme in &themes {
            for kind in MailKind::ALL {
                let has = |t: &str| kinds_present.contains(&(t.to_string(), kind.as_str()));
                if !has(theme) && !has(FALLBACK_THEME) {
                    problems.push(format!(
                        "theme {theme}: no email/{kind}/ templates, and the {FALLBACK_THEME} theme has none either"
                    ));
                }
            }
        }
        if themes.is_empty() {
            problems.push(format!("no themes in {}", themes_dir.display()));
        }
        if !problems.is_empty() {
            return Err(MailError::Config(problems.join("; ")));
        }

        let mut tera = tera::Tera::new();
        // Only the HTML bodies are escaped: a subject or text body with "&amp;" would be wrong.
        tera.autoescape_on([".html"]);
        tera.add_template_files(files)
            .map_err(|e| MailError::Config(format!("mail templates: {e:?}")))?;
        Ok(Self { tera, themes })
    }

    pub(crate) fn render(
        &self,
        theme: &str,
        locale: &str,
        kind: MailKind,
        context: &serde_json::Value,
    ) -> Result<RenderedMail, MailError> {
        let locale = SUPPORTED_LOCALES
            .iter()
            .copied()
            .find(|l| *l == locale)
            .unwrap_or(SUPPORTED_LOCALES[0]);
        let template_error = |template: &str, reason: String| MailError::Template {
            template: template.to_string(),
            reason,
        };
        if !self.themes.contains(theme) {
            return Err(template_error(theme, "no such theme".into()));
        }
        let own = kind_prefix(theme, kind);
        let prefix = if self
            .tera
            .contains_template(&format!("{own}/subject_{locale}.txt"))
        {
            own
        } else {
            kind_prefix(FALLBACK_THEME, kind)
        };

        let object = context
            .as_object()
            .ok_or_else(|| template_error(&prefix, "the context must be a JSON object".into()))?;
        if let Some(missing) = kind
            .required_context()
            .iter()
            .find(|key| object.get(**key).is_none_or(serde_json::Value::is_null))
        {
            return Err(template_error(
                &prefix,
                format!("the context lacks `{missing}`"),
            ));
        }
        let mut tera_context = tera::Context::from_serialize(context)
            .map_err(|e| template_error(&prefix, format!("{e:?}")))?;
        tera_context.insert("locale", locale);

        let [subject, text, html] = file_names(locale).map(|file| {
            let name = format!("{prefix}/{file}");
            self.tera
                .render(&name, &tera_context)
                .map_err(|e| template_error(&name, format!("{e:?}")))
        });
        Ok(RenderedMail {
            subject: one_line(&subject?),
            text: trim_lines(&text?),
            html: html?,
        })
    }
}

/// A subject is one header line: template line breaks become spaces (and cannot inject headers).
fn one_line(subject: &str) -> String {
    subject
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trailing spaces removed from every line, leading and trailing blank lines dropped, and one
/// final newline: template tags leave such traces, and some clients show them.
fn trim_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut out = lines.join("\n").trim_matches('\n').to_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(
            one_line("\n【デモ健保】お知らせ\r\nBcc: x@example.com\n"),
            "【デモ健保】お知らせ Bcc: x@example.com"
        );
    }

    #[test]
    fn text_bodies_lose_template_whitespace() {
        assert_eq!(
            trim_lines("\n\nこんにちは  \n\n  URL\n\n\n"),
            "こんにちは\n\n  URL\n"
        );
    }
}
