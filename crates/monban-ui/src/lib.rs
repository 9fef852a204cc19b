//! Monban's themable pages. A theme is a directory: `login/*.html` tera templates,
//! `messages/messages_<locale>.toml` with every text a member reads, and `resources/` (css)
//! served as-is. This crate loads themes, picks the member's language and renders pages from
//! view models; it knows nothing of flows or protocols.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use monban_core::config::SUPPORTED_LOCALES;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("theme directory {0}: {1}")]
    Load(PathBuf, String),
    #[error("theme \"{0}\" is not installed")]
    UnknownTheme(String),
    #[error("template {0}: {1}")]
    Render(String, String),
}

/// The pages Monban renders; every theme must have them all.
pub const REQUIRED_PAGES: [&str; 16] = [
    "login",
    "message",
    "form_post",
    "logout_confirm",
    "birthdate",
    "terms",
    "update_email",
    "verify_email",
    "verify_email_link",
    "user_id_and_method",
    "update_password",
    "otp_mail",
    "passkey",
    "register_passkey",
    "otp_app",
    "configure_otp",
];

/// One locale's texts, key → text.
pub type Messages = BTreeMap<String, String>;

struct Theme {
    /// locale → messages
    messages: HashMap<String, Messages>,
}

/// Every installed theme, parsed once at start.
pub struct Ui {
    tera: tera::Tera,
    themes: HashMap<String, Theme>,
    root: PathBuf,
}

impl Ui {
    /// Loads every theme under `themes_dir`. Every template must parse, every page Monban
    /// renders must exist, and every locale must carry the same keys, so a missing text is found
    /// at start, not by a member.
    pub fn load(themes_dir: &Path) -> Result<Self, UiError> {
        let fail = |message: String| UiError::Load(themes_dir.to_path_buf(), message);
        let mut tera = tera::Tera::new();
        let mut themes = HashMap::new();
        // All themes' templates are added together: a theme may extend another's base.
        let mut templates = Vec::new();
        let entries = std::fs::read_dir(themes_dir).map_err(|e| fail(e.to_string()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            for page in REQUIRED_PAGES {
                if !path.join("login").join(format!("{page}.html")).is_file() {
                    return Err(fail(format!("theme {name}: login/{page}.html is missing")));
                }
            }
            for section in ["login"] {
                let dir = path.join(section);
                let Ok(files) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for file in files.flatten() {
                    let file_name = file.file_name().to_string_lossy().to_string();
                    if file_name.ends_with(".html") {
                        templates
                            .push((file.path(), Some(format!("{name}/{section}/{file_name}"))));
                    }
                }
            }
            let mut messages = HashMap::new();
            for locale in SUPPORTED_LOCALES {
                let file = path
                    .join("messages")
                    .join(format!("messages_{locale}.toml"));
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| fail(format!("{}: {e}", file.display())))?;
                let parsed: Messages =
                    toml::from_str(&text).map_err(|e| fail(format!("{}: {e}", file.display())))?;
                messages.insert(locale.to_string(), parsed);
            }
            for (locale, other) in SUPPORTED_LOCALES
                .iter()
                .flat_map(|a| SUPPORTED_LOCALES.iter().map(move |b| (a, b)))
            {
                if let Some(missing) = messages[*locale]
                    .keys()
                    .find(|k| !messages[*other].contains_key(*k))
                {
                    return Err(fail(format!(
                        "theme {name}: messages_{other}.toml lacks \"{missing}\" (messages_{locale}.toml has it)"
                    )));
                }
            }
            themes.insert(name, Theme { messages });
        }
        tera.add_template_files(templates)
            .map_err(|e| fail(e.to_string()))?;
        if themes.is_empty() {
            return Err(fail("no themes found".into()));
        }
        Ok(Self {
            tera,
            themes,
            root: themes_dir.to_path_buf(),
        })
    }

    pub fn has_theme(&self, theme: &str) -> bool {
        self.themes.contains_key(theme)
    }

    /// Where a theme's static files live (served under `/resources/<theme>/`).
    pub fn resources_dir(&self, theme: &str) -> Option<PathBuf> {
        self.themes
            .contains_key(theme)
            .then(|| self.root.join(theme).join("resources"))
    }

    pub fn messages(&self, theme: &str, locale: &str) -> Result<&Messages, UiError> {
        let theme_data = self
            .themes
            .get(theme)
            .ok_or_else(|| UiError::UnknownTheme(theme.to_string()))?;
        Ok(theme_data
            .messages
            .get(locale)
            .unwrap_or(&theme_data.messages[SUPPORTED_LOCALES[0]]))
    }

    /// One text, or the key itself when a theme lacks it.
    pub fn message(&self, theme: &str, locale: &str, key: &str) -> String {
        self.messages(theme, locale)
            .ok()
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_else(|| key.to_string())
    }

    /// Renders `login/<page>.html` of a theme with the view model `page_model`. Templates
    /// see `msg` (the texts of the locale), `locale`, `theme`, and the model's fields.
    pub fn render<M: Serialize>(
        &self,
        theme: &str,
        locale: &str,
        page: &str,
        page_model: &M,
    ) -> Result<String, UiError> {
        let messages = self.messages(theme, locale)?;
        let name = format!("{theme}/login/{page}.html");
        let mut context = tera::Context::new();
        context.insert("msg", messages);
        context.insert("locale", locale);
        context.insert("theme", theme);
        context.insert("page", page_model);
        self.tera
            .render(&name, &context)
            .map_err(|e| UiError::Render(name, format!("{e:?}")))
    }
}

/// Picks the page language: an explicit choice (the language switch, then `ui_locales`), then
/// the browser's `Accept-Language`, then the realm's default.
pub fn negotiate_locale(
    choices: &[&str],
    accept_language: Option<&str>,
    default: &str,
) -> &'static str {
    let supported = |tag: &str| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        SUPPORTED_LOCALES.iter().copied().find(|l| *l == primary)
    };
    if let Some(found) = choices.iter().find_map(|c| supported(c)) {
        return found;
    }
    if let Some(header) = accept_language {
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        if let Some(found) = ranked
            .iter()
            .filter(|(q, _)| *q > 0.0)
            .find_map(|(_, tag)| supported(tag))
        {
            return found;
        }
    }
    supported(default).unwrap_or(SUPPORTED_LOCALES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_negotiation() {
        assert_eq!(negotiate_locale(&["en"], Some("ja"), "ja"), "en");
        assert_eq!(negotiate_locale(&["fr", "en-US"], None, "ja"), "en");
        assert_eq!(
            negotiate_locale(&[], Some("fr;q=0.9, en-GB;q=0.8, ja;q=0.1"), "ja"),
            "en"
        );
        assert_eq!(negotiate_locale(&[], Some("fr"), "ja"), "ja");
        assert_eq!(negotiate_locale(&[], None, "en"), "en");
    }

    #[test]
    fn the_default_theme_loads_and_renders() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../themes");
        let ui = Ui::load(&dir).unwrap();
        assert!(ui.has_theme("default"));
        assert_eq!(ui.message("default", "ja", "login_button"), "ログイン");
        assert_eq!(ui.message("default", "en", "login_button"), "Log in");
    }
}
