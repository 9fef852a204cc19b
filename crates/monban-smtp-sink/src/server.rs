//! The SMTP server: one thread accepts, one thread per connection speaks SMTP.

use crate::mail::Mail;
use base64::Engine;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the sink refuses. Read at every command, so [`Sink::set_refuse`] also affects
/// connections that are already open (a pooled client sees the change at its next mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refuse {
    Nothing,
    /// 550 to RCPT TO `nobody@…` (unknown mailbox); other recipients are accepted.
    Recipient,
    /// 550 after the message data (content refused).
    Data,
    /// 451 to RCPT TO (try again later).
    RecipientTemporarily,
    /// 554 to RCPT TO for every recipient: a server that refuses all mail.
    Everything,
}

/// One accepted mail, as it came over the wire.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The MAIL command's argument as sent, e.g. `FROM:<no-reply@example.test>`.
    pub mail_from: String,
    /// The RCPT commands' arguments as sent, e.g. `TO:<member@example.test>`.
    pub rcpt_to: Vec<String>,
    /// The message as transmitted (dot-unstuffed, CRLF line ends).
    pub data: String,
    /// Decoded `AUTH PLAIN` credentials (user, password), when the client logged in.
    pub auth: Option<(String, String)>,
}

impl Received {
    /// The message decoded: headers, subject, text and HTML parts. Panics, saying why, on a
    /// message it cannot read (it reads what lettre produces).
    pub fn mail(&self) -> Mail {
        Mail::parse(&self.data)
    }
}

/// A running SMTP sink; dropping it stops the server and closes its open connections.
pub struct Sink {
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    refuse: Mutex<Refuse>,
    received: Mutex<Vec<Received>>,
    /// Signalled at every stored mail, for [`Sink::wait_for`].
    arrived: Condvar,
    stopping: AtomicBool,
    /// A handle on every open connection, so that dropping the sink can end connections a
    /// client keeps open (lettre pools them) instead of leaving their threads blocked in a read.
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
}

/// Locks, ignoring poisoning: a test that panicked elsewhere must not hide what was received.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sink {
    /// Listens on 127.0.0.1 and a free port and serves on its own threads.
    pub fn start(refuse: Refuse) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("SMTP sink: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("SMTP sink: local address")
            .port();
        let shared = Arc::new(Shared {
            refuse: Mutex::new(refuse),
            received: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("smtp-sink-{port}"))
                .spawn(move || accept(listener, shared))
                .expect("SMTP sink: spawn the accepting thread")
        };
        Sink {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Changes what is refused from the next command on.
    pub fn set_refuse(&self, refuse: Refuse) {
        *lock(&self.shared.refuse) = refuse;
    }

    /// Every mail accepted so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// Blocks until at least `count` mails were received or `timeout` passes; returns what
    /// was received (possibly fewer than `count`: the caller asserts).
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut received = lock(&self.shared.received);
        while received.len() < count {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            received = self
                .shared
                .arrived
                .wait_timeout(received, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        received.clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // `accept` blocks: a connection of our own wakes it up to see the flag.
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let woke = TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            // Without the wake-up the join could block forever; the thread then dies with
            // the process instead.
            if woke {
                let _ = acceptor.join();
            }
        }
        for (_, stream) in lock(&self.shared.connections).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        if let Ok(handle) = stream.try_clone() {
            lock(&shared.connections).insert(id, handle);
        }
        let shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name(format!("smtp-sink-connection-{id}"))
            .spawn(move || {
                let _ = serve(&stream, &shared);
                let _ = stream.shutdown(Shutdown::Both);
                lock(&shared.connections).remove(&id);
            });
        if spawned.is_err() {
            return;
        }
    }
}

/// Reads one line (CRLF kept); `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    if reader.read_until(b'\n', &mut bytes)? == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Decodes an `AUTH PLAIN` response (`authzid NUL authcid NUL password`, base64).
fn plain_credentials(encoded: &str) -> (String, String) {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .unwrap_or_default();
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let mut fields = decoded.split('\0').skip(1);
    (
        fields.next().unwrap_or("").to_string(),
        fields.next().unwrap_or("").to_string(),
    )
}

fn serve(stream: &TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut write = stream;
    write.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut current = Received::default();
    let mut auth = None;
    loop {
        let Some(line) = read_line(&mut reader)? else {
            return Ok(());
        };
        let command = line.trim_end();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let argument = command.get(5..).unwrap_or("").to_string();
        let refuse = *lock(&shared.refuse);
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 sink.test\r\n",
            "AUTH" => {
                let encoded = match command.split(' ').nth(2) {
                    Some(initial) => initial.to_string(),
                    // No initial response: ask for it.
                    None => {
                        write.write_all(b"334 \r\n")?;
                        read_line(&mut reader)?.unwrap_or_default()
                    }
                };
                auth = Some(plain_credentials(&encoded));
                b"235 2.7.0 Authentication successful\r\n"
            }
            "MAIL" => {
                current = Received {
                    mail_from: argument,
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
                Refuse::Everything => b"554 5.7.1 All mail refused\r\n",
                _ => {
                    current.rcpt_to.push(argument);
                    b"250 2.1.5 Ok\r\n"
                }
            },
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut reader)? else {
                        return Ok(());
                    };
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if refuse == Refuse::Data {
                    b"550 5.7.1 Message content rejected\r\n"
                } else {
                    current.data = data;
                    lock(&shared.received).push(std::mem::take(&mut current));
                    shared.arrived.notify_all();
                    b"250 2.0.0 Ok: queued\r\n"
                }
            }
            "RSET" => {
                current = Received::default();
                b"250 2.0.0 Ok\r\n"
            }
            "NOOP" => b"250 2.0.0 Ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        write.write_all(reply)?;
    }
}
