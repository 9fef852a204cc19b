//! The first-login and second-factor pages as the tests drive them: a realm with the set-up
//! steps, mail through an SMTP sink, posting a page's form and reading what it shows.

use super::*;
use monban_smtp_sink::Sink;

/// The test realm's terms of use, version 1.
pub const TERMS_V1: &str = "テスト健保 利用規約 第1版\n第1条 本サービスは加入者のためのものです。";

/// The test realm with `order` as its first-login steps, the three second factors offered
/// and asked after the password, terms and a sender. The test server runs on 127.0.0.1, which
/// WebAuthn refuses as an RP ID: the realm names its own.
pub fn set_up_realm(order: &str) -> String {
    realm_toml(REDIRECT)
        + &format!(
            r#"
[flows]
browser = ["password", "passkey", "otp-app", "otp-mail"]
first_login = {order}

[terms]
file = "terms.txt"

[mail]
from = "テスト健保 <no-reply@kenpo.test>"
verify_email_link_seconds = 600

[second_factors]
offered = ["passkey", "otp-app", "otp-mail"]

[passkey]
rp_id = "localhost"
origins = ["https://localhost:8443"]
"#
        )
}

/// `[smtp]` for `monban.toml`, delivering to `sink`.
pub fn smtp_section(sink: &Sink) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"monban@kenpo.test\"\n",
        sink.port
    )
}

/// A server with [`set_up_realm`], mail through `sink` and [`TERMS_V1`].
pub async fn start_set_up(database: &TestDatabase, order: &str, sink: &Sink) -> TestServer {
    TestServer::start_configured(
        database,
        &set_up_realm(order),
        &smtp_section(sink),
        &[("terms.txt", TERMS_V1)],
    )
    .await
}

/// Posts `fields` (with the page's CSRF token) to the page's form.
pub async fn post(
    browser: &reqwest::Client,
    form: &LoginForm,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("csrf_token", form.csrf_token.as_str())];
    all.extend_from_slice(fields);
    browser.post(&form.action).form(&all).send().await.unwrap()
}

/// Posts and expects another page of the login (not a redirect).
pub async fn post_page(
    server: &TestServer,
    browser: &reqwest::Client,
    form: &LoginForm,
    fields: &[(&str, &str)],
) -> LoginForm {
    let response = post(browser, form, fields).await;
    assert_eq!(response.status(), 200, "after {fields:?}");
    parse_login_form(&server.base, &response.text().await.unwrap())
}

/// The login page `response` shows (not a redirect).
pub async fn page(server: &TestServer, response: reqwest::Response) -> LoginForm {
    assert_eq!(response.status(), 200);
    parse_login_form(&server.base, &response.text().await.unwrap())
}

/// Logs in to the portal client with [`PASSWORD`]; the page after the password.
pub async fn after_password(
    server: &TestServer,
    browser: &reqwest::Client,
    user_id: &str,
) -> LoginForm {
    let form = open_login_form(browser, &server.base, &authorize_url(server, "portal", &[])).await;
    page(
        server,
        submit_login(browser, &form, user_id, PASSWORD).await,
    )
    .await
}

/// The `amr` claim of ID-token claims.
pub fn amr(claims: &serde_json::Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .expect("an amr claim")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub fn assert_shows(page: &LoginForm, texts: &[&str]) {
    for text in texts {
        assert!(
            page.html.contains(text),
            "missing {text:?} in\n{}",
            page.html
        );
    }
}

pub fn assert_lacks(page: &LoginForm, text: &str) {
    assert!(
        !page.html.contains(text),
        "unexpected {text:?} in\n{}",
        page.html
    );
}
