//! Delivery over real SMTP: the SMTP sink (monban-smtp-sink), on 127.0.0.1 and a free port,
//! receives what `Mailer::send` sends; the tests decode the mail as a mail client would.
//! `Mailer::send` blocks and the sink serves on its own threads: plain `#[test]`s.

use monban_core::config::{SmtpConfig, SmtpSecurity};
use monban_mail::{MailError, MailKind, MailMessage, Mailer};
use monban_smtp_sink::{decode_header, Refuse, Sink};
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers

fn themes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../themes")
}

fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password_env: None,
        from: "no-reply@monban.test".into(),
    }
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&smtp(port), &themes_dir()).expect("mailer")
}

fn message(kind: MailKind, locale: &str, context: serde_json::Value) -> MailMessage {
    MailMessage {
        theme: "default".into(),
        locale: locale.into(),
        kind,
        from: Some("デモ健保 <no-reply@demo-kenpo.test>".into()),
        to: "member@example.test".into(),
        context,
    }
}

fn realm() -> serde_json::Value {
    json!({ "realm_title": "デモ健保加入者ページ", "realm_short_name": "デモ健保" })
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut context = realm();
    context
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    context
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn otp_mail_arrives_with_japanese_subject_and_both_parts() {
    let sink = Sink::start(Refuse::Nothing);
    let mailer = mailer(sink.port);
    mailer
        .send(&message(
            MailKind::OtpCode,
            "ja",
            with(json!({ "code": "482916", "minutes": 5 })),
        ))
        .expect("sent");

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let envelope = &received[0];
    assert_eq!(envelope.mail_from, "FROM:<no-reply@demo-kenpo.test>");
    assert_eq!(envelope.rcpt_to, ["TO:<member@example.test>"]);
    assert!(envelope.auth.is_none());

    let mail = envelope.mail();
    // Non-ASCII travels encoded; the decoded subject is exact.
    let raw_subject = mail.header("Subject").unwrap();
    assert!(raw_subject.is_ascii(), "{raw_subject}");
    assert_eq!(mail.subject, "【デモ健保】ワンタイムパスワードのお知らせ");
    assert_eq!(
        decode_header(mail.header("From").unwrap()),
        "デモ健保 <no-reply@demo-kenpo.test>"
    );
    assert_eq!(mail.header("To").unwrap(), "member@example.test");
    let message_id = mail.header("Message-ID").expect("Message-ID");
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@demo-kenpo.test>"),
        "{message_id}"
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));

    assert!(mail.text.contains("482916"), "{}", mail.text);
    assert!(mail.text.contains("有効期限は5分です。"), "{}", mail.text);
    assert!(mail.html.contains("482916"), "{}", mail.html);
    assert!(mail.html.contains("有効期限は5分です。"));
    assert!(mail.html.contains("<html lang=\"ja\">"));
}

#[test]
fn verify_email_mail_carries_the_link_in_the_text_part() {
    let sink = Sink::start(Refuse::Nothing);
    let link = "https://id.demo-kenpo.test/realms/demo/verify-email?key=Zm9vYmFy&tab=1";
    mailer(sink.port)
        .send(&message(
            MailKind::VerifyEmail,
            "ja",
            with(json!({ "link": link, "minutes": 30 })),
        ))
        .expect("sent");

    let mail = sink.received()[0].mail();
    assert_eq!(mail.subject, "【デモ健保】メールアドレス確認のお願い");
    assert!(
        mail.text.lines().any(|l| l == link),
        "link on its own line: {}",
        mail.text
    );
    assert!(!mail.text.contains("&amp;"), "text is not escaped");
    let escaped = link.replace('&', "&amp;");
    assert!(mail.html.contains(&format!("href=\"{escaped}\"")));
    assert!(mail.html.contains("メールアドレスの確認</a>"));
}

#[test]
fn english_locale() {
    let sink = Sink::start(Refuse::Nothing);
    let mailer = mailer(sink.port);
    let link = "https://id.demo-kenpo.test/realms/demo/reset?key=abc";
    mailer
        .send(&message(
            MailKind::PasswordReset,
            "en",
            with(json!({ "link": link, "minutes": 5 })),
        ))
        .expect("sent");
    mailer
        .send(&message(
            MailKind::OtpCode,
            "en",
            with(json!({ "code": "007123", "minutes": 5 })),
        ))
        .expect("sent");

    let received = sink.received();
    assert_eq!(received.len(), 2);
    let reset = received[0].mail();
    assert_eq!(reset.subject, "[デモ健保] Reset your password");
    assert!(reset.text.contains("valid for 5 minutes"), "{}", reset.text);
    assert!(reset.text.contains(link));
    assert!(reset.html.contains("<html lang=\"en\">"));
    assert!(reset.html.contains("Reset password</a>"));

    let otp = received[1].mail();
    assert_eq!(otp.subject, "[デモ健保] Your one-time password");
    assert!(otp.text.contains("One-time password: 007123"));
    assert!(otp.html.contains("007123"));
}

#[test]
fn refused_recipient_is_rejected_and_the_mailer_goes_on() {
    let sink = Sink::start(Refuse::Recipient);
    let mailer = mailer(sink.port);
    let mut otp = message(
        MailKind::OtpCode,
        "ja",
        with(json!({ "code": "482916", "minutes": 5 })),
    );
    otp.to = "nobody@example.test".into();
    let error = mailer.send(&otp).unwrap_err();
    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    assert!(error.to_string().contains("550"), "{error}");
    assert!(!error.is_retryable());
    assert!(sink.received().is_empty());

    // The failed transaction leaves nothing behind in the pool: the next mail goes out.
    otp.to = "member@example.test".into();
    mailer.send(&otp).expect("sent");
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn refused_content_is_rejected() {
    let sink = Sink::start(Refuse::Data);
    let error = mailer(sink.port)
        .send(&message(
            MailKind::UserIdReminder,
            "ja",
            with(json!({ "user_id": "taro.kenpo" })),
        ))
        .unwrap_err();
    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    // The error may be logged: it carries the server's reply, never the mail.
    assert!(!error.to_string().contains("taro.kenpo"), "{error}");
}

#[test]
fn temporary_refusal_is_unavailable() {
    let sink = Sink::start(Refuse::RecipientTemporarily);
    let error = mailer(sink.port)
        .send(&message(
            MailKind::OtpCode,
            "ja",
            with(json!({ "code": "482916", "minutes": 5 })),
        ))
        .unwrap_err();
    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[test]
fn closed_port_is_unavailable() {
    let port = closed_port();
    let started = std::time::Instant::now();
    let error = mailer(port)
        .send(&message(
            MailKind::OtpCode,
            "ja",
            with(json!({ "code": "482916", "minutes": 5 })),
        ))
        .unwrap_err();
    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn credentials_come_from_the_named_environment_variable() {
    let sink = Sink::start(Refuse::Nothing);
    let config = SmtpConfig {
        username: Some("monban".into()),
        password_env: Some("MONBAN_TEST_SMTP_PASSWORD".into()),
        ..smtp(sink.port)
    };
    let env = |name: &str| (name == "MONBAN_TEST_SMTP_PASSWORD").then(|| "s3cret".to_string());
    let mailer = Mailer::with_env(&config, &themes_dir(), env).expect("mailer");
    assert!(!format!("{mailer:?}").contains("s3cret"));
    let mut first_login = message(
        MailKind::FirstLoginNotice,
        "ja",
        with(json!({ "link": "https://portal.demo-kenpo.test/" })),
    );
    first_login.from = None;
    mailer.send(&first_login).expect("sent");

    let received = sink.received();
    assert_eq!(
        received[0].auth,
        Some(("monban".to_string(), "s3cret".to_string()))
    );
    assert_eq!(received[0].mail_from, "FROM:<no-reply@monban.test>");
    assert!(received[0]
        .mail()
        .text
        .contains("https://portal.demo-kenpo.test/"));

    let unset = |_: &str| None;
    let error = Mailer::with_env(&config, &themes_dir(), unset).unwrap_err();
    assert!(
        matches!(&error, MailError::Config(m) if m.contains("MONBAN_TEST_SMTP_PASSWORD")),
        "{error:?}"
    );
}

#[test]
fn a_missing_context_key_is_a_template_error_and_nothing_is_sent() {
    let sink = Sink::start(Refuse::Nothing);
    let error = mailer(sink.port)
        .send(&message(
            MailKind::OtpCode,
            "ja",
            with(json!({ "minutes": 5 })),
        ))
        .unwrap_err();
    assert!(
        matches!(&error, MailError::Template { reason, .. } if reason.contains("`code`")),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    let mut bad_address = message(
        MailKind::OtpCode,
        "ja",
        with(json!({ "code": "1", "minutes": 5 })),
    );
    bad_address.to = "not an address".into();
    let error = mailer(sink.port).send(&bad_address).unwrap_err();
    assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
    assert!(sink.received().is_empty());
}
