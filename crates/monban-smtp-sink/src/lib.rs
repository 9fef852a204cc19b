//! An SMTP sink for tests: a small SMTP server on 127.0.0.1 and a free port that accepts (or
//! refuses, on demand) what it is sent and keeps it, plus a reader that decodes a received mail
//! as a mail client would.
//!
//! It serves on its own threads rather than on an async runtime so that any test can use it:
//! synchronous tests, tokio tests, actix's current-thread runtime. The binary
//! `monban-smtp-sink` runs the same sink for the browser suites and writes each mail to a JSON
//! file.
//!
//! ```no_run
//! use monban_smtp_sink::{Refuse, Sink};
//! use std::time::Duration;
//!
//! let sink = Sink::start(Refuse::Nothing);
//! // … send a mail to 127.0.0.1:{sink.port} …
//! let received = sink.wait_for(1, Duration::from_secs(5));
//! let mail = received[0].mail();
//! assert_eq!(mail.subject, "Hello");
//! ```

mod mail;
mod server;

pub use mail::{decode_header, Mail};
pub use server::{Received, Refuse, Sink};
