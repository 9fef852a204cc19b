//! Passkeys (SPEC §4.1) over HTTP, on SQLite and PostgreSQL: what the pages carry and what the
//! server refuses. The ceremonies themselves run in Chromium's virtual authenticator
//! (tests/browser/passkey.test.js); here, answers no authenticator made are refused with the
//! error page, a member cannot skip the enrolment, and check-config names an unusable relying
//! party.

mod support;

use support::*;

/// Passkeys after the password, enrolled by whoever chose them and has none. The test server
/// runs on 127.0.0.1, which WebAuthn refuses as an RP ID: the realm names its own.
fn realm() -> String {
    realm_toml(REDIRECT)
        + r#"
[flows]
browser = ["password", "passkey"]
first_login = ["register-passkey"]

[passkey]
rp_id = "localhost"
origins = ["https://localhost:8443"]
"#
}

/// The options the page hands its script (`data-webauthn-options`, HTML-escaped JSON).
fn ceremony_options(page: &LoginForm) -> serde_json::Value {
    let start = page
        .html
        .find("data-webauthn-options=\"")
        .expect("the ceremony's options")
        + "data-webauthn-options=\"".len();
    let end = start + page.html[start..].find('"').unwrap();
    let json = page.html[start..end]
        .replace("&quot;", "\"")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

async fn enrolment(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm()).await;
    let member = server.add_member_who_chose("member0001", "passkey");

    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let response = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(
        response.status(),
        200,
        "no passkey yet: the enrolment, not the portal"
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let setup = parse_login_form(&server.base, &response.text().await.unwrap());
    assert_shows(
        &setup,
        &[
            "<title>セキュリティの設定 - テスト健保加入者ページ</title>",
            "<h2 class=\"page-title\">セキュリティの設定</h2>",
            "<label for=\"logout-sessions\">全てのデバイスからサインアウトする</label>",
            ">次へ</button>",
            "data-webauthn=\"create\"",
            "/js/webauthn.js\"></script>",
        ],
    );
    // The script runs under this response's nonce, and no other.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce in the CSP");
    assert_shows(&setup, &[&format!("<script nonce=\"{nonce}\"")]);
    let options = ceremony_options(&setup);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(public_key["rp"]["name"], "テスト健保加入者ページ");
    assert_eq!(public_key["user"]["name"], "member0001");
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"], "required",
        "the realm's default policy"
    );
    assert!(
        public_key.get("excludeCredentials").is_none()
            || public_key["excludeCredentials"] == serde_json::json!([]),
        "nothing to exclude yet"
    );
    let first_challenge = public_key["challenge"].as_str().unwrap().to_string();
    assert!(first_challenge.len() >= 43, "a 32-byte challenge at least");

    // An answer no authenticator made: the error page, whose retry carries a fresh challenge.
    let forged = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
    })
    .to_string();
    let error = post_page(
        &server,
        &browser,
        &setup,
        &[("action", "register"), ("credential", &forged)],
    )
    .await;
    assert_shows(
        &error,
        &[
            "<h2 class=\"page-title\">セキュリティーキー・エラー</h2>",
            "セキュリティーキーの登録結果が無効です。",
            ">再試行してください</button>",
        ],
    );
    let retry_challenge = ceremony_options(&error)["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(retry_challenge, first_challenge, "a new ceremony");

    // A cancelled ceremony (the browser says so): the same error page.
    let cancelled = post_page(&server, &browser, &error, &[("action", "failed")]).await;
    assert_shows(&cancelled, &["セキュリティーキーの登録結果が無効です。"]);

    // Naming without a verified passkey does not save anything, nor let the member through.
    let skipped = post_page(
        &server,
        &browser,
        &cancelled,
        &[("action", "name"), ("name", "パスキー")],
    )
    .await;
    assert_shows(
        &skipped,
        &["<h2 class=\"page-title\">セキュリティの設定</h2>"],
    );
    assert!(server.store.passkeys_of(&member).unwrap().is_empty());

    // Without the CSRF token nothing is looked at.
    let response = browser
        .post(&skipped.action)
        .form(&[("action", "failed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // A member who chose another method is asked no passkey.
    server.add_member_who_chose("member0002", "otp-mail");
    let other = support::browser();
    let form = open_login_form(&other, &server.base, &authorize_url(&server, "portal", &[])).await;
    let response = submit_login(&other, &form, "member0002", PASSWORD).await;
    assert_eq!(response.status(), 302, "straight back to the client");

    // Same check once the page is left for another login's: its challenge is not this one's.
    let again = support::browser();
    let form = open_login_form(&again, &server.base, &authorize_url(&server, "portal", &[])).await;
    let second = parse_login_form(
        &server.base,
        &submit_login(&again, &form, "member0001", PASSWORD)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_ne!(
        ceremony_options(&second)["publicKey"]["challenge"],
        ceremony_options(&skipped)["publicKey"]["challenge"]
    );
    assert_lacks(&second, "セキュリティーキー・エラー");
    let _ = post(&again, &second, &[("action", "failed")]).await;
}

on_both_backends! {
    passkey_enrolment_refuses_what_no_authenticator_made => enrolment;
}

/// `check-config` names the `[passkey]` field a relying party cannot work with.
#[test]
fn check_config_names_an_unusable_relying_party() {
    let base = realm_toml(REDIRECT) + "\n[flows]\nbrowser = [\"password\", \"passkey\"]\n";
    for (extra, expected) in [
        // The server's own public URL is an IP address here.
        ("", "passkey.rp_id: passkeys need a domain name"),
        (
            "\n[passkey]\nrp_id = \"kenpo.example\"\norigins = [\"https://login.other.example\"]\n",
            "passkey.origins: https://login.other.example/ is not on the RP ID kenpo.example",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &(base.clone() + extra));
        let server_file = dir.path().join("monban.toml");
        let server_toml = std::fs::read_to_string(&server_file).unwrap();
        std::fs::write(
            &server_file,
            format!("public_url = \"http://127.0.0.1:8080\"\n{server_toml}"),
        )
        .unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_monban"))
            .arg("--config-dir")
            .arg(dir.path())
            .arg("check-config")
            .env_remove("MONBAN_DATABASE_URL")
            .env_remove("MONBAN_PUBLIC_URL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "refused: {extra}");
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
}
