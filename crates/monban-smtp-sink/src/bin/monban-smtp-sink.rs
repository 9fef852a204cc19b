//! The SMTP sink as a process, for suites that are not written in Rust (the browser tests):
//! prints `listening on 127.0.0.1:PORT` once, then writes every received mail to
//! `DIR/NNNN.json` (0001, 0002, …) until killed.

use clap::Parser;
use monban_smtp_sink::{Received, Refuse, Sink};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "monban-smtp-sink",
    about = "An SMTP server on 127.0.0.1 that accepts every mail and writes it to DIR/NNNN.json"
)]
struct Args {
    /// Where the mails go (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let sink = Sink::start(Refuse::Nothing);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on 127.0.0.1:{}", sink.port)?;
    // The reader waits for this line before it sends anything: it must not sit in a buffer.
    stdout.flush()?;
    drop(stdout);

    let mut written = 0;
    loop {
        let received = sink.wait_for(written + 1, Duration::from_secs(3600));
        for envelope in &received[written..] {
            written += 1;
            write_mail(&args.dir, written, envelope)?;
        }
    }
}

/// Writes to a temporary name, then renames: a reader watching for `*.json` never sees half
/// a file.
fn write_mail(dir: &Path, sequence: usize, envelope: &Received) -> std::io::Result<()> {
    let name = format!("{sequence:04}.json");
    let temporary = dir.join(format!("{name}.tmp"));
    std::fs::write(&temporary, json_of(envelope).to_string())?;
    std::fs::rename(&temporary, dir.join(name))
}

fn json_of(envelope: &Received) -> serde_json::Value {
    let mut value = json!({
        "mail_from": envelope.mail_from,
        "rcpt_to": envelope.rcpt_to,
    });
    // A mail the reader cannot decode still gets its file (a test waiting for it would
    // otherwise time out without a clue): the envelope, empty parts and the reason.
    // The panic message also goes to stderr through the default hook.
    let fields = value.as_object_mut().expect("an object");
    match std::panic::catch_unwind(|| envelope.mail()) {
        Ok(mail) => {
            fields.insert("subject".into(), mail.subject.into());
            fields.insert("text".into(), mail.text.into());
            fields.insert("html".into(), mail.html.into());
        }
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the mail could not be decoded".into());
            fields.insert("subject".into(), "".into());
            fields.insert("text".into(), "".into());
            fields.insert("html".into(), "".into());
            fields.insert("error".into(), reason.into());
        }
    }
    value
}
