//! The OTP app as the tests use it: codes computed with an RFC 6238 implementation of the
//! tests' own (ring's HMAC, not Monban's code), and the set-up page driven like a member
//! would (manual mode, the key typed into the "app").

use super::*;

/// Seconds a code lasts with the default `[otp_app]` settings.
pub const OTP_PERIOD: i64 = 30;

/// RFC 4648 base32, any case, spaces ignored (as apps read a typed key).
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("{:?} is not base32", c as char)) as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// The 6-digit SHA-1 code of time step `step` (RFC 4226 §5.3, dynamic truncation).
pub fn code_at_step(key: &[u8], step: i64) -> String {
    use ring::hmac;
    let mac = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
        &(step as u64).to_be_bytes(),
    );
    let mac = mac.as_ref();
    let offset = (mac[19] & 0x0f) as usize;
    let value = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

/// The time step of the server's clock.
pub fn step_now(server: &TestServer) -> i64 {
    server.clock_now().div_euclid(OTP_PERIOD)
}

/// What the app shows now.
pub fn code_now(server: &TestServer, key: &[u8]) -> String {
    code_at_step(key, step_now(server))
}

/// The key on the set-up page in manual mode, as shown ("NQZX CVTI …").
pub fn shown_key(page: &LoginForm) -> String {
    let marker = "<code id=\"otp-key\">";
    let start = page
        .html
        .find(marker)
        .unwrap_or_else(|| panic!("no key in\n{}", page.html))
        + marker.len();
    let end = start + page.html[start..].find("</code>").unwrap();
    page.html[start..end].to_string()
}

/// On the set-up page: "スキャンできませんか？", the key into the app, then the app's current
/// code and the device name `name` (with `extra` fields). Returns the key and the answer.
pub async fn set_up_app(
    server: &TestServer,
    browser: &reqwest::Client,
    setup: &LoginForm,
    name: &str,
    extra: &[(&str, &str)],
) -> (Vec<u8>, reqwest::Response) {
    assert_shows(
        setup,
        &["<h2 class=\"page-title\">ワンタイムパスワードの設定</h2>"],
    );
    let manual = post_page(server, browser, setup, &[("action", "manual")]).await;
    let key = base32_decode(&shown_key(&manual));
    let code = code_now(server, &key);
    let mut fields = vec![("totp", code.as_str()), ("userLabel", name)];
    fields.extend_from_slice(extra);
    let response = post(browser, &manual, &fields).await;
    (key, response)
}
