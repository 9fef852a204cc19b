//! Monban's mails to members: email verification, one-time codes, password reset, user-ID
//! reminder and the first-login notice (SPEC §8).
//!
//! This crate owns two things. **Composition**: each theme's `email/<kind>/` tera templates
//! (subject, text body, HTML body, per locale) become one multipart/alternative message with a
//! UTF-8 subject, the realm's sender and a Message-ID. **Delivery**: an SMTP connection pool
//! (lettre; no TLS, STARTTLS or implicit TLS, rustls on ring) and the sorting of failures into
//! "the server refused this mail" and "no server to talk to right now", so a flow can keep the
//! member's progress and offer a retry. It knows nothing of flows, codes or links: callers pass
//! them in the context. Bodies carry codes and links, so nothing here logs them.

mod templates;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use monban_core::config::{SmtpConfig, SmtpSecurity};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use templates::EmailTemplates;
pub use templates::RenderedMail;

/// How long one SMTP command (connect included) may take before the send counts as
/// [`MailError::Unavailable`]. A member is waiting on the page, so this is short.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The mails Monban sends. The kebab-case name is the template directory
/// (`themes/<theme>/email/<name>/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailKind {
    /// "メールアドレスの確認" link (SPEC §3.4).
    VerifyEmail,
    /// The one-time code of the OTP-mail second factor (SPEC §4.3).
    OtpCode,
    /// "パスワードをリセット" link (SPEC §6).
    PasswordReset,
    /// The member's user ID (SPEC §6).
    UserIdReminder,
    /// Admin-triggered invitation to log in for the first time (SPEC §9). It never carries the
    /// temporary user ID or password: those travel on paper.
    FirstLoginNotice,
}

impl MailKind {
    pub const ALL: [MailKind; 5] = [
        MailKind::VerifyEmail,
        MailKind::OtpCode,
        MailKind::PasswordReset,
        MailKind::UserIdReminder,
        MailKind::FirstLoginNotice,
    ];

    /// The template directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify-email",
            MailKind::OtpCode => "otp-code",
            MailKind::PasswordReset => "password-reset",
            MailKind::UserIdReminder => "user-id-reminder",
            MailKind::FirstLoginNotice => "first-login-notice",
        }
    }

    /// Context keys a [`MailMessage`] of this kind must carry (non-null). Checked before
    /// rendering, so a caller's mistake is a [`MailError::Template`] naming the key, whatever
    /// the theme's templates happen to use.
    ///
    /// | kind | keys besides `realm_title`, `realm_short_name` |
    /// | --- | --- |
    /// | verify-email | `link`, `minutes` (link validity) |
    /// | otp-code | `code`, `minutes` (code validity) |
    /// | password-reset | `link`, `minutes` (link validity) |
    /// | user-id-reminder | `user_id` (and optionally `link`, the login page) |
    /// | first-login-notice | `link` (the portal) |
    pub fn required_context(self) -> &'static [&'static str] {
        match self {
            MailKind::VerifyEmail => &["realm_title", "realm_short_name", "link", "minutes"],
            MailKind::OtpCode => &["realm_title", "realm_short_name", "code", "minutes"],
            MailKind::PasswordReset => &["realm_title", "realm_short_name", "link", "minutes"],
            MailKind::UserIdReminder => &["realm_title", "realm_short_name", "user_id"],
            MailKind::FirstLoginNotice => &["realm_title", "realm_short_name", "link"],
        }
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mail to one member. Its `Debug` shows neither the recipient nor the context values
/// (codes, links), so logging a message is safe.
#[derive(Clone)]
pub struct MailMessage {
    /// The realm's theme; a theme without `email/<kind>/` uses the `default` theme's.
    pub theme: String,
    /// `ja` or `en` (see `SUPPORTED_LOCALES`); anything else falls back to `ja`.
    pub locale: String,
    pub kind: MailKind,
    /// The realm's sender, `no-reply@example.jp` or `デモ健保 <no-reply@example.jp>`;
    /// `None` uses `smtp.from` of `monban.toml`.
    pub from: Option<String>,
    /// The member's address.
    pub to: String,
    /// Template variables, a JSON object: see [`MailKind::required_context`].
    pub context: serde_json::Value,
}

impl fmt::Debug for MailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .context
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("MailMessage")
            .field("theme", &self.theme)
            .field("locale", &self.locale)
            .field("kind", &self.kind)
            .field("from", &self.from)
            .field("context_keys", &keys)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP settings or the theme's mail templates are unusable (found by [`Mailer::new`]).
    #[error("mail settings: {0}")]
    Config(String),
    /// A template is missing, fails to render, or the context lacks a key. A bug or a broken
    /// theme: retrying will not help.
    #[error("mail template {template}: {reason}")]
    Template { template: String, reason: String },
    /// The sender or recipient is not a mail address (the address itself is not repeated, to
    /// keep it out of logs).
    #[error("mail address not valid: {0}")]
    InvalidAddress(String),
    /// The mail server refused the mail for good (a 5xx reply), e.g. an unknown recipient.
    /// Retrying the same mail will fail again; the member may need to correct the address.
    #[error("the mail server refused the mail: {0}")]
    Rejected(String),
    /// No answer, a refused or broken connection, a TLS failure, a timeout or a temporary
    /// refusal (4xx). The member can try again later.
    #[error("the mail server is unavailable: {0}")]
    Unavailable(String),
}

impl MailError {
    /// Whether sending the same mail again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MailError::Unavailable(_))
    }
}

/// Whether `text` can be a sender (`no-reply@example.jp` or `名前 <no-reply@example.jp>`).
pub fn valid_sender(text: &str) -> bool {
    text.parse::<Mailbox>().is_ok()
}

/// Composes mails from the themes' templates and delivers them over SMTP.
/// Share one per process (it holds the connection pool); it is `Send + Sync`.
///
/// Sending blocks (it waits for the server's answer): call it where blocking is fine, as the
/// login steps are (they run off the async executor).
pub struct Mailer {
    transport: Outgoing,
    templates: EmailTemplates,
    default_from: Mailbox,
}

enum Outgoing {
    Smtp(SmtpTransport),
    /// Development: each mail becomes a `.eml` file in a directory.
    Directory(FileTransport),
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("default_from", &self.default_from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Reads the SMTP password from the environment variable named by `smtp.password_env`
    /// and loads the mail templates of every theme under `themes_dir`. Connects to nothing: an
    /// unreachable server shows at the first [`Mailer::send`].
    pub fn new(smtp: &SmtpConfig, themes_dir: &Path) -> Result<Self, MailError> {
        Self::with_env(smtp, themes_dir, |name| std::env::var(name).ok())
    }

    /// [`Mailer::new`] with the environment given as a function (for tests and for callers
    /// that resolved secrets elsewhere).
    pub fn with_env(
        smtp: &SmtpConfig,
        themes_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, MailError> {
        let default_from: Mailbox = smtp
            .from
            .parse()
            .map_err(|_| MailError::Config("smtp.from is not a mail address".into()))?;
        let templates = EmailTemplates::load(themes_dir)?;

        let tls_error = |e: lettre::transport::smtp::Error| {
            MailError::Config(format!("smtp.host {:?}: {e}", smtp.host))
        };
        let mut builder = match smtp.security {
            SmtpSecurity::None => SmtpTransport::builder_dangerous(smtp.host.as_str()),
            SmtpSecurity::Starttls => {
                SmtpTransport::starttls_relay(&smtp.host).map_err(tls_error)?
            }
            SmtpSecurity::Tls => SmtpTransport::relay(&smtp.host).map_err(tls_error)?,
        }
        .port(smtp.port)
        .timeout(Some(SMTP_TIMEOUT));

        match (&smtp.username, &smtp.password_env) {
            (Some(username), Some(variable)) => {
                let password = env(variable).filter(|p| !p.is_empty()).ok_or_else(|| {
                    MailError::Config(format!(
                        "smtp.password_env: the environment variable {variable} is not set"
                    ))
                })?;
                if smtp.security == SmtpSecurity::None {
                    tracing::warn!(
                        host = %smtp.host,
                        "SMTP credentials will be sent without encryption (smtp.security = \"none\")"
                    );
                }
                builder = builder.credentials(Credentials::new(username.clone(), password));
            }
            (Some(_), None) => {
                return Err(MailError::Config(
                    "smtp.username is set but smtp.password_env is not".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(MailError::Config(
                    "smtp.password_env is set but smtp.username is not".into(),
                ))
            }
            (None, None) => {}
        }

        Ok(Self {
            transport: Outgoing::Smtp(builder.build()),
            templates,
            default_from,
        })
    }

    /// For development and demos: mails are written as `<id>.eml` files into `directory`
    /// (created if missing) instead of being sent.
    pub fn to_directory(
        directory: &Path,
        from: &str,
        themes_dir: &Path,
    ) -> Result<Self, MailError> {
        let default_from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Config("the sender is not a mail address".into()))?;
        std::fs::create_dir_all(directory).map_err(|e| {
            MailError::Config(format!("cannot create {}: {e}", directory.display()))
        })?;
        Ok(Self {
            transport: Outgoing::Directory(FileTransport::new(directory)),
            templates: EmailTemplates::load(themes_dir)?,
            default_from,
        })
    }

    /// The sender used when a message names none (`smtp.from`).
    pub fn default_from(&self) -> String {
        self.default_from.to_string()
    }

    /// Renders subject, text and HTML of a mail without sending it (previews, tests).
    pub fn render(
        &self,
        theme: &str,
        locale: &str,
        kind: MailKind,
        context: &serde_json::Value,
    ) -> Result<RenderedMail, MailError> {
        self.templates.render(theme, locale, kind, context)
    }

    /// Renders and delivers one mail; returns once the server accepted it. On error nothing
    /// was delivered (as far as the server told us) and the caller keeps its state for a retry.
    /// Blocks until the server answers (at most [`SMTP_TIMEOUT`] per command).
    pub fn send(&self, message: &MailMessage) -> Result<(), MailError> {
        let email = self.compose(message)?;
        let sent = match &self.transport {
            Outgoing::Smtp(smtp) => smtp.send(&email).map(|_| ()).map_err(|e| classify(&e)),
            Outgoing::Directory(files) => files
                .send(&email)
                .map(|_| ())
                .map_err(|e| MailError::Unavailable(e.to_string())),
        };
        match &sent {
            Ok(()) => tracing::info!(
                kind = %message.kind,
                theme = %message.theme,
                locale = %message.locale,
                "mail sent"
            ),
            Err(error) => tracing::warn!(kind = %message.kind, %error, "mail not sent"),
        }
        sent
    }

    fn compose(&self, message: &MailMessage) -> Result<Message, MailError> {
        let rendered = self.render(
            &message.theme,
            &message.locale,
            message.kind,
            &message.context,
        )?;
        let from = match &message.from {
            Some(from) => from.parse::<Mailbox>().map_err(|_| {
                MailError::InvalidAddress("the sender is not a mail address".into())
            })?,
            None => self.default_from.clone(),
        };
        let to = message
            .to
            .parse::<Mailbox>()
            .map_err(|_| MailError::InvalidAddress("the recipient is not a mail address".into()))?;
        // The sender's domain, not this host's name: instances behind a balancer have
        // meaningless host names, and receivers judge the id against the From domain.
        let message_id = format!(
            "<{}@{}>",
            uuid::Uuid::new_v4().simple(),
            from.email.domain()
        );
        Message::builder()
            .from(from)
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id))
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| MailError::InvalidAddress(e.to_string()))
    }
}

/// 5xx is the server's final word on this mail; everything else (4xx, network, TLS, timeout,
/// a garbled reply) may pass.
fn classify(error: &lettre::transport::smtp::Error) -> MailError {
    if error.is_permanent() {
        MailError::Rejected(error.to_string())
    } else {
        MailError::Unavailable(error.to_string())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): keeps vacation responders from answering the
/// no-reply address.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_their_template_directories() {
        for kind in MailKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            let back: MailKind = serde_json::from_value(json).unwrap();
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn debug_output_keeps_codes_out_of_logs() {
        let message = MailMessage {
            theme: "default".into(),
            locale: "ja".into(),
            kind: MailKind::OtpCode,
            from: None,
            to: "member@example.test".into(),
            context: serde_json::json!({ "code": "482916", "minutes": 5 }),
        };
        let shown = format!("{message:?}");
        assert!(shown.contains("\"code\""), "{shown}");
        assert!(
            !shown.contains("482916") && !shown.contains("member@"),
            "{shown}"
        );
    }

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(MailError::Unavailable("x".into()).is_retryable());
        assert!(!MailError::Rejected("x".into()).is_retryable());
        assert!(!MailError::Template {
            template: "t".into(),
            reason: "r".into()
        }
        .is_retryable());
    }
}
