//! What Monban refuses, and how: bad redirect URIs, PKCE failures, replayed codes, wrong client
//! secrets, wrong passwords, lockout, missing CSRF, expired logins. On SQLite and PostgreSQL.

mod support;

use support::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn token_request(
    server: &TestServer,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, serde_json::Value, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{}/protocol/openid-connect/token", server.issuer()))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap(), challenge)
}

/// Logs `member0001` in through `client` and returns the code.
async fn code_for(server: &TestServer, client: &str, extra: &[(&str, &str)]) -> String {
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(server, client, extra),
    )
    .await;
    let response = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(response.status(), 302);
    param(&callback_params(&response), "code")
        .unwrap()
        .to_string()
}

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");

async fn unregistered_redirect_uri_is_an_error_page(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    for redirect in [
        "https://evil.example/callback",
        "https://portal.example/callback/extra",
        "https://portal.example/callback?x=1",
    ] {
        let url = format!(
            "{}/protocol/openid-connect/auth?client_id=portal&response_type=code&scope=openid&redirect_uri={}",
            server.issuer(),
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
        let response = browser().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400, "{redirect}");
        assert!(
            response.headers().get("location").is_none(),
            "never redirect to an unregistered URI"
        );
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("登録されていない戻り先です"));
    }
    let response = browser()
        .get(authorize_url(&server, "nobody", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    // Other errors go back to the (verified) client with the state.
    let response = browser()
        .get(authorize_url(
            &server,
            "portal",
            &[("response_type", "token")],
        ))
        .send()
        .await
        .unwrap();
    let params = callback_params(&response);
    assert_eq!(param(&params, "error"), Some("unsupported_response_type"));
    assert_eq!(param(&params, "state"), Some("st4te"));
    // A public client must use PKCE.
    let response = browser()
        .get(authorize_url(&server, "spa", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("invalid_request")
    );
}

async fn pkce_is_verified(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];

    let code = code_for(&server, "portal", &pkce).await;
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier-x",
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code = code_for(&server, "portal", &pkce).await;
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a missing verifier fails"
    );

    let code = code_for(&server, "portal", &pkce).await;
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A public client: no secret, PKCE mandatory.
    let code = code_for(&server, "spa", &pkce).await;
    let response = reqwest::Client::new()
        .post(format!("{}/protocol/openid-connect/token", server.issuer()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn replayed_code_is_refused_and_its_tokens_revoked(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let code = code_for(&server, "portal", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body, _) = token_request(&server, PORTAL, &form).await;
    assert_eq!(status, 200);
    let access_token = body["access_token"].as_str().unwrap().to_string();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_string();
    let userinfo = |token: String| {
        let url = format!("{}/protocol/openid-connect/userinfo", server.issuer());
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(userinfo(access_token.clone()).await.status(), 200);

    let (status, body, _) = token_request(&server, PORTAL, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refused = userinfo(access_token).await;
    assert_eq!(
        refused.status(),
        401,
        "tokens issued from a replayed code are revoked"
    );
    assert!(refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "its refresh token too"
    );
}

async fn client_authentication_is_enforced(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let code = code_for(&server, "portal", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body, challenge) = token_request(&server, ("portal", "wrong-secret"), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.unwrap().starts_with("Basic"));
    // A failed client authentication does not spend the code, but a code issued to one
    // client never works for another.
    let (status, body, _) =
        token_request(&server, ("other", "other-secret-0123456789"), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Malformed requests get RFC 6749 errors, never a 5xx.
    let (status, body, _) = token_request(&server, PORTAL, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body, _) = token_request(&server, PORTAL, &[("code", "x")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body, _) = token_request(
        &server,
        PORTAL,
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

async fn wrong_passwords_and_lockout(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    const INVALID: &str = "無効なユーザIDまたはパスワードです。";
    const LOCKED: &str =
        "アカウントがロックされています。ご加入の健保組合までお問い合わせください。";

    let unknown = submit_login(&browser, &form, "nobody0001", PASSWORD).await;
    assert_eq!(unknown.status(), 200);
    let unknown_page = unknown.text().await.unwrap();
    assert!(unknown_page.contains(INVALID));
    // Empty fields are slips, not guesses: they do not count toward the lockout.
    for _ in 0..5 {
        let page = submit_login(&browser, &form, "member0001", "")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(INVALID));
    }
    // The realm allows 3 failures.
    for attempt in 1..=3 {
        let page = submit_login(&browser, &form, "member0001", "Wrong-pass1")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(INVALID), "attempt {attempt}");
        assert!(
            page.contains("value=\"member0001\""),
            "the typed user ID is kept"
        );
    }
    let locked = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(
        locked.status(),
        200,
        "even the right password does not get in"
    );
    assert!(locked.text().await.unwrap().contains(LOCKED));
    let kinds: Vec<String> = server
        .store
        .audit_event_kinds("test")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(kinds.contains(&"USER_LOCKED".to_string()));

    // After the wait, the right password works again.
    server.clock.advance(61);
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let response = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(response.status(), 302);
}

async fn forms_without_csrf_token_are_refused(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    for csrf in [None, Some("forged-token")] {
        let mut fields = vec![("username", "member0001"), ("password", PASSWORD)];
        if let Some(token) = csrf {
            fields.push(("csrf_token", token));
        }
        let response = browser
            .post(&form.action)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(response.headers().get("location").is_none());
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("画面の有効期限が切れたか、不正な送信です。"));
    }
    // The login form carries the security headers.
    let page = browser.get(&form.action).send().await.unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

async fn an_expired_login_shows_a_friendly_page(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    server.clock.advance(1801);
    let response = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("ログインの有効期限が切れました"), "{page}");
    assert!(
        page.contains("href=\"https://portal.example/\""),
        "a way back to the portal to start again"
    );
    // A login form opened in another browser is not this browser's.
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let stranger = support::browser();
    let response = submit_login(&stranger, &form, "member0001", PASSWORD).await;
    assert_eq!(response.status(), 400);
}

async fn prompt_none_without_a_session(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    let response = browser()
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let params = callback_params(&response);
    assert_eq!(param(&params, "error"), Some("login_required"));
    assert_eq!(param(&params, "iss"), Some(server.issuer().as_str()));
}

on_both_backends! {
    unregistered_redirect_uri => unregistered_redirect_uri_is_an_error_page;
    pkce => pkce_is_verified;
    replayed_code => replayed_code_is_refused_and_its_tokens_revoked;
    client_authentication => client_authentication_is_enforced;
    lockout => wrong_passwords_and_lockout;
    csrf => forms_without_csrf_token_are_refused;
    expired_login => an_expired_login_shows_a_friendly_page;
    prompt_none => prompt_none_without_a_session;
}
