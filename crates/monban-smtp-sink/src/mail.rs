//! Reading a received mail back, as a mail client would. Only what lettre produces is
//! supported: RFC 2047 "B" encoded words in UTF-8, base64 / quoted-printable / 7bit bodies,
//! a single text part or multipart/alternative with a text and an HTML part. Anything else
//! panics with a message saying what was found: this is test tooling, and a test should fail
//! loudly on a mail it cannot check.

use base64::Engine;

/// A received mail, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Every header in order, unfolded, values as transmitted (not RFC 2047-decoded: a test
    /// can check that non-ASCII travels encoded; [`decode_header`] decodes).
    pub headers: Vec<(String, String)>,
    /// The `Subject` header, RFC 2047-decoded (empty without one).
    pub subject: String,
    /// The decoded text/plain part (empty without one), with `\n` line ends.
    pub text: String,
    /// The decoded text/html part (empty without one), with `\n` line ends.
    pub html: String,
}

impl Mail {
    /// The value of the first header named `name` (case-insensitive), as transmitted.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub(crate) fn parse(data: &str) -> Mail {
        let entity = Entity::parse(data);
        let subject = entity
            .header("Subject")
            .map(decode_header)
            .unwrap_or_default();
        let content_type = entity
            .header("Content-Type")
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        let (text, html) = if content_type.starts_with("multipart/alternative") {
            alternative_parts(&entity)
        } else if content_type.starts_with("text/plain") {
            (decode_text(&entity), String::new())
        } else if content_type.starts_with("text/html") {
            (String::new(), decode_text(&entity))
        } else {
            panic!(
                "SMTP sink: cannot read a mail of Content-Type {content_type:?} \
                 (only text/plain, text/html and multipart/alternative)"
            )
        };
        Mail {
            headers: entity.headers,
            subject,
            text,
            html,
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A message or a MIME part: headers and the still-encoded body.
struct Entity {
    headers: Vec<(String, String)>,
    body: String,
}

impl Entity {
    /// Splits headers (unfolded) from the body; line ends become `\n`.
    fn parse(raw: &str) -> Entity {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().unwrap_or_else(|| {
                    panic!("SMTP sink: header continuation line before any header: {line:?}")
                });
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        Entity {
            headers,
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Decodes RFC 2047 encoded words (UTF-8, "B" encoding); whitespace between adjacent encoded
/// words is dropped, as RFC 2047 requires.
pub fn decode_header(value: &str) -> String {
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
                assert!(
                    charset.eq_ignore_ascii_case("utf-8"),
                    "SMTP sink: encoded word in charset {charset} (only UTF-8): {value:?}"
                );
                assert!(
                    encoding.eq_ignore_ascii_case("b"),
                    "SMTP sink: encoded word in encoding {encoding} (only B): {value:?}"
                );
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap_or_else(|e| {
                            panic!("SMTP sink: encoded word is not base64 ({e}): {value:?}")
                        }),
                )
            });
        match word {
            Some(bytes) => {
                pending.extend(bytes);
                last_was_word = true;
            }
            None => {
                out.push_str(&utf8(std::mem::take(&mut pending), value));
                if !out.is_empty() || last_was_word {
                    out.push(' ');
                }
                out.push_str(token);
                last_was_word = false;
            }
        }
    }
    out.push_str(&utf8(pending, value));
    out.trim().to_string()
}

fn utf8(bytes: Vec<u8>, context: &str) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("SMTP sink: decoded text is not UTF-8 ({e}) in {context:?}"))
}

/// The decoded body of a text part; checks that it declares UTF-8.
fn decode_text(part: &Entity) -> String {
    let content_type = part
        .header("Content-Type")
        .unwrap_or("")
        .to_ascii_lowercase();
    // The charset may be quoted (`charset="utf-8"`, as Python's email package writes it).
    assert!(
        content_type.replace('"', "").contains("charset=utf-8"),
        "SMTP sink: a text part without charset=utf-8: Content-Type {content_type:?}"
    );
    let encoding = part
        .header("Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            let compact: String = part.body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .unwrap_or_else(|e| panic!("SMTP sink: a base64 part is not base64 ({e})"));
            utf8(bytes, "a base64 part")
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
                let byte = std::str::from_utf8(&raw[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .unwrap_or_else(|| {
                        panic!("SMTP sink: bad quoted-printable escape in line {line:?}")
                    });
                bytes.push(byte);
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
    utf8(bytes, "a quoted-printable part")
}

/// The decoded text/plain and text/html parts of a multipart/alternative mail; both must be
/// there.
fn alternative_parts(mail: &Entity) -> (String, String) {
    let content_type = mail.header("Content-Type").unwrap_or("");
    let boundary = content_type
        .split(';')
        .filter_map(|parameter| parameter.trim().strip_prefix("boundary="))
        .next()
        .unwrap_or_else(|| panic!("SMTP sink: no boundary in Content-Type {content_type:?}"))
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut text = None;
    let mut html = None;
    for chunk in mail.body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let part = Entity::parse(chunk.trim_start_matches('\n'));
        let part_type = part
            .header("Content-Type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if part_type.starts_with("text/plain") {
            text = Some(decode_text(&part));
        } else if part_type.starts_with("text/html") {
            html = Some(decode_text(&part));
        }
    }
    (
        text.expect("SMTP sink: multipart/alternative without a text/plain part"),
        html.expect("SMTP sink: multipart/alternative without a text/html part"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_encoded_words_join_and_plain_words_keep_their_space() {
        // "【デモ健保】" split across two words, as lettre folds long subjects.
        let value = "=?utf-8?b?44CQ44OH44Oi?= =?utf-8?b?5YGl5L+d44CR?= Reset";
        assert_eq!(decode_header(value), "【デモ健保】 Reset");
        assert_eq!(decode_header("plain subject"), "plain subject");
        assert_eq!(
            decode_header("=?utf-8?b?44OH44Oi?= <a@b.test>"),
            "デモ <a@b.test>"
        );
    }

    #[test]
    fn quoted_printable_soft_breaks_and_escapes() {
        assert_eq!(
            decode_quoted_printable("caf=C3=A9 au =\nlait\nnext line"),
            "café au lait\nnext line"
        );
    }

    #[test]
    fn a_single_text_part_is_read() {
        let mail = Mail::parse(
            "Subject: Hi\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\nbody line\r\n",
        );
        assert_eq!(mail.subject, "Hi");
        assert_eq!(mail.text, "body line\n");
        assert_eq!(mail.html, "");
    }

    #[test]
    #[should_panic(expected = "multipart/mixed")]
    fn an_unsupported_type_panics_with_the_type() {
        Mail::parse("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n");
    }
}
