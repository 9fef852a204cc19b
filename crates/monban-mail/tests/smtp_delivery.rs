//! Delivery over real SMTP: a small SMTP server in this file, on 127.0.0.1 and a free port,
//! receives what `Mailer::send` sends; the tests decode the mail as a mail client would.

use base64::Engine;
use monban_core::config::{SmtpConfig, SmtpSecurity};
use monban_mail::{MailError, MailKind, MailMessage, Mailer};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// The SMTP sink

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refuse {
    Nothing,
    /// 550 to RCPT TO `nobody@…` (unknown mailbox); other recipients are accepted.
    Recipient,
    /// 550 after the message data (content refused).
    Data,
    /// 451 to RCPT TO (try again later).
    RecipientTemporarily,
}

#[derive(Debug, Clone, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// The message as transmitted (dot-unstuffed, CRLF line ends).
    data: String,
    /// Decoded `AUTH PLAIN` credentials, when the client logged in.
    auth: Option<(String, String)>,
}

struct Sink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    async fn start(refuse: Refuse) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let _ = serve(stream, refuse, store).await;
                });
            }
        });
        Sink {
            port,
            received,
            task,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    refuse: Refuse,
    store: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut current = Received::default();
    let mut auth = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 sink.test\r\n",
            "AUTH" => {
                let encoded = command.split(' ').nth(2).unwrap_or("");
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                let decoded = String::from_utf8_lossy(&decoded).to_string();
                let mut fields = decoded.split('\0').skip(1);
                auth = Some((
                    fields.next().unwrap_or("").to_string(),
                    fields.next().unwrap_or("").to_string(),
                ));
                b"235 2.7.0 Authentication successful\r\n"
            }
            "MAIL" => {
                current = Received {
                    mail_from: command[5..].to_string(),
                    auth: auth.clone(),
                    ..Received::default()
                };
                b"250 2.1.0 Ok\r\n"
            }
            "RCPT" => match refuse {
                Refuse::Recipient if command.contains("<nobody@") => {
                    b"550 5.1.1 No such user here\r\n"
                }
                Refuse::RecipientTemporarily => b"451 4.3.0 Try again later\r\n",
                _ => {
                    current.rcpt_to.push(command[5..].to_string());
                    b"250 2.1.5 Ok\r\n"
                }
            },
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if refuse == Refuse::Data {
                    b"550 5.7.1 Message content rejected\r\n"
                } else {
                    current.data = data;
                    store.lock().unwrap().push(std::mem::take(&mut current));
                    b"250 2.0.0 Ok: queued\r\n"
                }
            }
            "RSET" => {
                current = Received::default();
                b"250 2.0.0 Ok\r\n"
            }
            "NOOP" => b"250 2.0.0 Ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a mail back (only what lettre produces: RFC 2047 "B" words, base64 / QP / 7bit parts)

struct Parsed {
    headers: Vec<(String, String)>,
    body: String,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits headers (unfolded) from the body; line ends become `\n`.
fn parse_entity(raw: &str) -> Parsed {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation without header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Parsed {
        headers,
        body: body.to_string(),
    }
}

/// Decodes RFC 2047 encoded words; whitespace between adjacent encoded words is dropped.
fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut last_was_word = false;
    for token in value.split(' ') {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                let charset = parts.next()?;
                let encoding = parts.next()?;
                let text = parts.next()?;
                assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
                assert!(encoding.eq_ignore_ascii_case("b"), "encoding {encoding}");
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .expect("base64 encoded word"),
                )
            });
        match word {
            Some(bytes) => {
                pending.extend(bytes);
                last_was_word = true;
            }
            None => {
                out.push_str(&String::from_utf8(std::mem::take(&mut pending)).unwrap());
                if !out.is_empty() || last_was_word {
                    out.push(' ');
                }
                out.push_str(token);
                last_was_word = false;
            }
        }
    }
    out.push_str(&String::from_utf8(pending).unwrap());
    out.trim().to_string()
}

fn decode_body(part: &Parsed) -> String {
    let encoding = part
        .header("Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            let compact: String = part.body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        }
        "quoted-printable" => decode_quoted_printable(&part.body),
        _ => part.body.clone(),
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let raw = line.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'=' && i + 2 < raw.len() {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
        if !soft_break && lines.peek().is_some() {
            bytes.push(b'\n');
        }
    }
    String::from_utf8(bytes).unwrap()
}

/// The decoded text/plain and text/html parts of a multipart/alternative mail.
struct Alternative {
    text: String,
    html: String,
}

fn alternative_parts(mail: &Parsed) -> Alternative {
    let content_type = mail.header("Content-Type").expect("Content-Type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut text = None;
    let mut html = None;
    for chunk in mail.body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let part = parse_entity(chunk.trim_start_matches('\n'));
        let part_type = part
            .header("Content-Type")
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(part_type.contains("charset=utf-8"), "{part_type}");
        let body = decode_body(&part);
        if part_type.starts_with("text/plain") {
            text = Some(body);
        } else if part_type.starts_with("text/html") {
            html = Some(body);
        }
    }
    Alternative {
        text: text.expect("a text/plain part"),
        html: html.expect("a text/html part"),
    }
}

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
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_mail_arrives_with_japanese_subject_and_both_parts() {
    let sink = Sink::start(Refuse::Nothing).await;
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

    let mail = parse_entity(&envelope.data);
    // Non-ASCII travels encoded; the decoded subject is exact.
    let raw_subject = mail.header("Subject").unwrap();
    assert!(raw_subject.is_ascii(), "{raw_subject}");
    assert_eq!(
        decode_header(raw_subject),
        "【デモ健保】ワンタイムパスワードのお知らせ"
    );
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

    let parts = alternative_parts(&mail);
    assert!(parts.text.contains("482916"), "{}", parts.text);
    assert!(parts.text.contains("有効期限は5分です。"), "{}", parts.text);
    assert!(parts.html.contains("482916"), "{}", parts.html);
    assert!(parts.html.contains("有効期限は5分です。"));
    assert!(parts.html.contains("<html lang=\"ja\">"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_email_mail_carries_the_link_in_the_text_part() {
    let sink = Sink::start(Refuse::Nothing).await;
    let link = "https://id.demo-kenpo.test/realms/demo/verify-email?key=Zm9vYmFy&tab=1";
    mailer(sink.port)
        .send(&message(
            MailKind::VerifyEmail,
            "ja",
            with(json!({ "link": link, "minutes": 30 })),
        ))
        .expect("sent");

    let mail = parse_entity(&sink.received()[0].data);
    assert_eq!(
        decode_header(mail.header("Subject").unwrap()),
        "【デモ健保】メールアドレス確認のお願い"
    );
    let parts = alternative_parts(&mail);
    assert!(
        parts.text.lines().any(|l| l == link),
        "link on its own line: {}",
        parts.text
    );
    assert!(!parts.text.contains("&amp;"), "text is not escaped");
    let escaped = link.replace('&', "&amp;");
    assert!(parts.html.contains(&format!("href=\"{escaped}\"")));
    assert!(parts.html.contains("メールアドレスの確認</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_locale() {
    let sink = Sink::start(Refuse::Nothing).await;
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
    let reset = parse_entity(&received[0].data);
    assert_eq!(
        decode_header(reset.header("Subject").unwrap()),
        "[デモ健保] Reset your password"
    );
    let parts = alternative_parts(&reset);
    assert!(parts.text.contains("valid for 5 minutes"), "{}", parts.text);
    assert!(parts.text.contains(link));
    assert!(parts.html.contains("<html lang=\"en\">"));
    assert!(parts.html.contains("Reset password</a>"));

    let otp = parse_entity(&received[1].data);
    assert_eq!(
        decode_header(otp.header("Subject").unwrap()),
        "[デモ健保] Your one-time password"
    );
    let parts = alternative_parts(&otp);
    assert!(parts.text.contains("One-time password: 007123"));
    assert!(parts.html.contains("007123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_recipient_is_rejected_and_the_mailer_goes_on() {
    let sink = Sink::start(Refuse::Recipient).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_content_is_rejected() {
    let sink = Sink::start(Refuse::Data).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_refusal_is_unavailable() {
    let sink = Sink::start(Refuse::RecipientTemporarily).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_unavailable() {
    let port = closed_port().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_the_named_environment_variable() {
    let sink = Sink::start(Refuse::Nothing).await;
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
    let parts = alternative_parts(&parse_entity(&received[0].data));
    assert!(parts.text.contains("https://portal.demo-kenpo.test/"));

    let unset = |_: &str| None;
    let error = Mailer::with_env(&config, &themes_dir(), unset).unwrap_err();
    assert!(
        matches!(&error, MailError::Config(m) if m.contains("MONBAN_TEST_SMTP_PASSWORD")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_context_key_is_a_template_error_and_nothing_is_sent() {
    let sink = Sink::start(Refuse::Nothing).await;
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
