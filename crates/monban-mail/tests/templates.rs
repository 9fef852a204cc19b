//! The themes' mail templates: every kind renders in every locale, HTML is escaped, a theme
//! without mails borrows the default theme's, and a broken theme is refused at start.

use monban_core::config::{SmtpConfig, SmtpSecurity, SUPPORTED_LOCALES};
use monban_mail::{MailError, MailKind, Mailer};
use serde_json::json;
use std::path::{Path, PathBuf};

fn themes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../themes")
}

fn smtp() -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: 2525,
        security: SmtpSecurity::None,
        username: None,
        password_env: None,
        from: "no-reply@monban.test".into(),
    }
}

fn full_context() -> serde_json::Value {
    json!({
        "realm_title": "デモ健保加入者ページ",
        "realm_short_name": "デモ健保",
        "link": "https://id.demo-kenpo.test/realms/demo/action?key=abc&n=1",
        "code": "482916",
        "minutes": 5,
        "user_id": "taro.kenpo",
    })
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "monban-mail-{name}-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_kind_renders_in_every_locale() {
    let mailer = Mailer::new(&smtp(), &themes_dir()).expect("mailer");
    let context = full_context();
    for kind in MailKind::ALL {
        for locale in SUPPORTED_LOCALES {
            let mail = mailer
                .render("default", locale, kind, &context)
                .unwrap_or_else(|e| panic!("{kind} {locale}: {e}"));
            assert!(
                mail.subject.contains("デモ健保") && !mail.subject.contains('\n'),
                "{kind} {locale}: {}",
                mail.subject
            );
            assert!(
                mail.text.ends_with("デモ健保\n"),
                "{kind} {locale}: signature"
            );
            assert!(mail.html.contains(&format!("<html lang=\"{locale}\">")));
            if locale == "ja" {
                assert!(mail.subject.starts_with("【デモ健保】"), "{}", mail.subject);
            } else {
                assert!(mail.subject.starts_with("[デモ健保] "), "{}", mail.subject);
            }
        }
    }
}

#[test]
fn each_kind_says_what_it_must() {
    let mailer = Mailer::new(&smtp(), &themes_dir()).expect("mailer");
    let context = full_context();
    let link = "https://id.demo-kenpo.test/realms/demo/action?key=abc&n=1";
    let render = |kind, locale| mailer.render("default", locale, kind, &context).unwrap();

    let otp = render(MailKind::OtpCode, "ja");
    assert_eq!(otp.subject, "【デモ健保】ワンタイムパスワードのお知らせ");
    assert!(otp.text.contains("ワンタイムパスワード：482916"));
    assert!(otp.text.contains("有効期限は5分です。"));

    let verify = render(MailKind::VerifyEmail, "ja");
    assert!(verify.text.contains(link));
    assert!(verify.html.contains("メールアドレスの確認</a>"));

    let reset = render(MailKind::PasswordReset, "ja");
    assert!(reset.text.contains(link));
    assert!(reset.text.contains("5分"));
    assert!(reset.html.contains("パスワードをリセット</a>"));

    let reminder = render(MailKind::UserIdReminder, "ja");
    assert!(reminder.text.contains("ユーザID：taro.kenpo"));
    assert!(reminder.text.contains(link), "the optional login link");
    let without_link = mailer
        .render(
            "default",
            "ja",
            MailKind::UserIdReminder,
            &json!({ "realm_title": "T", "realm_short_name": "S", "user_id": "taro.kenpo" }),
        )
        .unwrap();
    assert!(!without_link.text.contains("ログイン画面："));
    assert!(!without_link.html.contains("<a "));

    let notice = render(MailKind::FirstLoginNotice, "ja");
    assert!(notice.text.contains(link));
    assert!(!notice.text.contains("taro.kenpo") && !notice.html.contains("taro.kenpo"));
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let mailer = Mailer::new(&smtp(), &themes_dir()).expect("mailer");
    let mut context = full_context();
    context["realm_title"] = json!("<b>A&B</b>健保");
    let mail = mailer
        .render("default", "ja", MailKind::OtpCode, &context)
        .unwrap();
    assert!(
        mail.html.contains("&lt;b&gt;A&amp;B&lt;/b&gt;健保"),
        "{}",
        mail.html
    );
    assert!(!mail.html.contains("<b>A&B</b>"));
    assert!(mail.text.contains("<b>A&B</b>健保"));
}

#[test]
fn unknown_locale_falls_back_to_japanese() {
    let mailer = Mailer::new(&smtp(), &themes_dir()).expect("mailer");
    let mail = mailer
        .render("default", "fr", MailKind::OtpCode, &full_context())
        .unwrap();
    assert_eq!(mail.subject, "【デモ健保】ワンタイムパスワードのお知らせ");
}

#[test]
fn a_theme_without_mails_borrows_the_default_ones() {
    let dir = TempDir::new("fallback");
    copy_dir(
        &themes_dir().join("default/email"),
        &dir.0.join("default/email"),
    );
    // "plain" has no email/ at all; "society" overrides one kind.
    std::fs::create_dir_all(dir.0.join("plain/login")).unwrap();
    copy_dir(
        &themes_dir().join("default/email/otp-code"),
        &dir.0.join("society/email/otp-code"),
    );
    std::fs::write(
        dir.0.join("society/email/otp-code/subject_ja.txt"),
        "【{{ realm_short_name }}】確認コード\n",
    )
    .unwrap();
    let mailer = Mailer::new(&smtp(), &dir.0).expect("mailer");
    let context = full_context();

    let plain = mailer
        .render("plain", "ja", MailKind::OtpCode, &context)
        .unwrap();
    assert_eq!(plain.subject, "【デモ健保】ワンタイムパスワードのお知らせ");
    let own = mailer
        .render("society", "ja", MailKind::OtpCode, &context)
        .unwrap();
    assert_eq!(own.subject, "【デモ健保】確認コード");
    let borrowed = mailer
        .render("society", "ja", MailKind::VerifyEmail, &context)
        .unwrap();
    assert!(borrowed.html.contains("メールアドレスの確認</a>"));

    let error = mailer
        .render("nonexistent", "ja", MailKind::OtpCode, &context)
        .unwrap_err();
    assert!(matches!(error, MailError::Template { .. }), "{error:?}");
}

#[test]
fn a_broken_theme_is_refused_at_start_with_every_problem() {
    let dir = TempDir::new("broken");
    copy_dir(
        &themes_dir().join("default/email"),
        &dir.0.join("default/email"),
    );
    std::fs::remove_file(dir.0.join("default/email/otp-code/body_en.html")).unwrap();
    std::fs::create_dir_all(dir.0.join("default/email/otp_code")).unwrap();
    let error = Mailer::new(&smtp(), &dir.0).unwrap_err();
    let MailError::Config(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("otp-code/body_en.html is missing"),
        "{message}"
    );
    assert!(message.contains("otp_code: not a mail kind"), "{message}");

    let syntax = TempDir::new("syntax");
    copy_dir(
        &themes_dir().join("default/email"),
        &syntax.0.join("default/email"),
    );
    std::fs::write(
        syntax.0.join("default/email/otp-code/body_ja.txt"),
        "{% if code %}unclosed",
    )
    .unwrap();
    let error = Mailer::new(&smtp(), &syntax.0).unwrap_err();
    assert!(matches!(error, MailError::Config(_)), "{error:?}");
}

#[test]
fn a_mail_drop_directory_receives_each_mail_as_a_file() {
    let dir = TempDir::new("drop");
    let drop = dir.0.join("mail");
    let mailer = Mailer::to_directory(&drop, "monban@localhost", &themes_dir()).expect("mailer");
    let message = monban_mail::MailMessage {
        theme: "default".into(),
        locale: "ja".into(),
        kind: MailKind::VerifyEmail,
        from: Some("デモ健保 <no-reply@demo.example>".into()),
        to: "taro@demo.example".into(),
        context: full_context(),
    };
    mailer.send(&message).expect("written");
    let files: Vec<_> = std::fs::read_dir(&drop)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("To: taro@demo.example"), "{text}");
    assert!(text.contains("multipart/alternative"), "{text}");
}
