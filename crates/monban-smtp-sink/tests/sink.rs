//! The sink spoken to in plain SMTP from plain threads (no async runtime anywhere), and the
//! binary run as the browser suites run it.

use monban_smtp_sink::{Refuse, Sink};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A mail as lettre writes one: encoded subject, multipart/alternative, a quoted-printable
/// text part and a base64 HTML part; one body line starts with a dot.
const MAIL: &str = "From: =?utf-8?b?44OH44Oi?= <from@sink.test>\r\n\
To: to@sink.test\r\n\
Subject: =?utf-8?b?44CQ44OH44Oi?=\r\n =?utf-8?b?5YGl5L+d44CR?= hello\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative;\r\n boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9 au =\r\nlait\r\n\
..dot line\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
PHA+44OH44OiPC9w\r\nPg==\r\n\
--b1--\r\n";

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut client = Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        assert!(client.reply().starts_with("220"));
        client
    }

    /// The whole reply (all lines of a multi-line one).
    fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("a reply");
            reply.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return reply;
            }
        }
    }

    fn command(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// One transaction; the reply code of the first refused step, or 250.
    fn send(&mut self, from: &str, to: &[&str], data: &str) -> String {
        assert!(self
            .command(&format!("MAIL FROM:<{from}>"))
            .starts_with("250"));
        for recipient in to {
            let reply = self.command(&format!("RCPT TO:<{recipient}>"));
            if !reply.starts_with("250") {
                self.command("RSET");
                return reply[..3].to_string();
            }
        }
        assert!(self.command("DATA").starts_with("354"));
        let reply = self.command(&format!("{data}."));
        reply[..3].to_string()
    }
}

fn send_one(port: u16, to: &str) -> String {
    let mut client = Client::connect(port);
    client.command("EHLO client.test");
    let code = client.send("from@sink.test", &[to], MAIL);
    client.command("QUIT");
    code
}

#[test]
fn a_mail_is_kept_and_decoded() {
    let sink = Sink::start(Refuse::Nothing);
    let mut client = Client::connect(sink.port);
    let ehlo = client.command("EHLO client.test");
    assert!(ehlo.contains("AUTH PLAIN"), "{ehlo}");
    // AUTH PLAIN "\0user\0pass", as an initial response.
    assert!(client
        .command("AUTH PLAIN AHVzZXIAcGFzcw==")
        .starts_with("235"));
    assert_eq!(
        client.send("from@sink.test", &["a@sink.test", "b@sink.test"], MAIL),
        "250"
    );

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let envelope = &received[0];
    assert_eq!(envelope.mail_from, "FROM:<from@sink.test>");
    assert_eq!(envelope.rcpt_to, ["TO:<a@sink.test>", "TO:<b@sink.test>"]);
    assert_eq!(envelope.auth, Some(("user".into(), "pass".into())));
    assert!(envelope.data.contains("\r\n.dot line\r\n"), "dot-unstuffed");

    let mail = envelope.mail();
    assert_eq!(mail.subject, "【デモ健保】 hello");
    assert!(mail.header("subject").unwrap().is_ascii());
    assert_eq!(
        monban_smtp_sink::decode_header(mail.header("From").unwrap()),
        "デモ <from@sink.test>"
    );
    assert_eq!(mail.text, "café au lait\n.dot line\n");
    assert_eq!(mail.html, "<p>デモ</p>");
}

#[test]
fn auth_plain_without_an_initial_response() {
    let sink = Sink::start(Refuse::Nothing);
    let mut client = Client::connect(sink.port);
    client.command("EHLO client.test");
    assert!(client.command("AUTH PLAIN").starts_with("334"));
    assert!(client.command("AHVzZXIAcGFzcw==").starts_with("235"));
    client.send("from@sink.test", &["a@sink.test"], MAIL);
    assert_eq!(
        sink.received()[0].auth,
        Some(("user".into(), "pass".into()))
    );
}

#[test]
fn refusals() {
    let sink = Sink::start(Refuse::Recipient);
    assert_eq!(send_one(sink.port, "nobody@sink.test"), "550");
    assert_eq!(send_one(sink.port, "somebody@sink.test"), "250");

    sink.set_refuse(Refuse::RecipientTemporarily);
    assert_eq!(send_one(sink.port, "somebody@sink.test"), "451");
    sink.set_refuse(Refuse::Everything);
    assert_eq!(send_one(sink.port, "somebody@sink.test"), "554");
    sink.set_refuse(Refuse::Data);
    assert_eq!(send_one(sink.port, "somebody@sink.test"), "550");
    assert_eq!(sink.received().len(), 1, "only the accepted mail is kept");
}

#[test]
fn a_changed_refusal_applies_to_an_open_connection() {
    let sink = Sink::start(Refuse::Everything);
    let mut client = Client::connect(sink.port);
    client.command("EHLO client.test");
    assert_eq!(client.send("from@sink.test", &["a@sink.test"], MAIL), "554");
    sink.set_refuse(Refuse::Nothing);
    assert_eq!(client.send("from@sink.test", &["a@sink.test"], MAIL), "250");
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn wait_for_returns_when_the_mail_arrives_or_at_the_timeout() {
    let sink = Sink::start(Refuse::Nothing);
    let started = Instant::now();
    assert!(sink.wait_for(1, Duration::from_millis(200)).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200));

    let port = sink.port;
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        send_one(port, "a@sink.test");
        send_one(port, "b@sink.test");
    });
    let started = Instant::now();
    let received = sink.wait_for(2, Duration::from_secs(10));
    assert_eq!(received.len(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();
}

#[test]
fn dropping_the_sink_stops_it_and_closes_open_connections() {
    let sink = Sink::start(Refuse::Nothing);
    let port = sink.port;
    let mut client = Client::connect(port);
    client.command("EHLO client.test");
    drop(sink);

    let mut rest = Vec::new();
    let read = client.reader.read_to_end(&mut rest);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the open connection is closed: {read:?}"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_binary_writes_each_mail_to_a_json_file() {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "monban-smtp-sink-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_monban-smtp-sink"))
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim_end()
        .strip_prefix("listening on 127.0.0.1:")
        .unwrap_or_else(|| panic!("{line:?}"))
        .parse()
        .unwrap();

    assert_eq!(send_one(port, "a@sink.test"), "250");
    assert_eq!(send_one(port, "b@sink.test"), "250");
    let second = dir.join("0002.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !second.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let first = read("0001.json");
    assert_eq!(first["mail_from"], "FROM:<from@sink.test>");
    assert_eq!(first["rcpt_to"], serde_json::json!(["TO:<a@sink.test>"]));
    assert_eq!(first["subject"], "【デモ健保】 hello");
    assert_eq!(first["text"], "café au lait\n.dot line\n");
    assert_eq!(first["html"], "<p>デモ</p>");
    assert_eq!(read("0002.json")["rcpt_to"][0], "TO:<b@sink.test>");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["0001.json", "0002.json"], "no temporary file left");
    std::fs::remove_dir_all(&dir).unwrap();
}
