//! The provider beyond the login: refresh tokens (rotation, reuse), client credentials,
//! introspection and revocation, private_key_jwt, key rotation, prompt and max_age.
//! On SQLite and on PostgreSQL.

mod support;

use serde_json::json;
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");
const SERVICE: (&str, &str) = ("service", "service-secret-0123456789");

fn realm_with_more_clients() -> String {
    realm_toml(REDIRECT)
        + r#"
[[clients]]
client_id = "service"
secret = "service-secret-0123456789"
service_account = true
redirect_uris = []
scopes = ["api.read", "api.write"]
audience = ["api"]

[[clients]]
client_id = "offline"
secret = "offline-secret-0123456789"
offline_access = true
access_token_seconds = 60
redirect_uris = ["https://portal.example/callback"]
id_token_signed_response_alg = "EdDSA"
"#
}

async fn refresh(
    server: &TestServer,
    client: (&str, &str),
    token: &str,
) -> (u16, serde_json::Value) {
    token_call(
        server,
        "token",
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn introspect(server: &TestServer, token: &str) -> (u16, serde_json::Value) {
    token_call(server, "token/introspect", SERVICE, &[("token", token)]).await
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_more_clients()).await;
    server.add_member("member0001", "健保 太郎", None);
    let first = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let first_refresh = first["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();
    let first_id = jwt_part(first["id_token"].as_str().unwrap(), 1);
    assert!(first["refresh_expires_in"].as_i64().unwrap() > 0);

    server.clock.advance(10);
    let (status, second) = refresh(&server, PORTAL, &first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh, "rotated");
    let second_id = verify_jws(second["id_token"].as_str().unwrap(), &jwks(&server).await);
    for claim in ["auth_time", "sid", "acr", "sub"] {
        assert_eq!(
            second_id[claim], first_id[claim],
            "{claim} is kept on refresh"
        );
    }
    assert!(second_id["iat"].as_i64() > first_id["iat"].as_i64());
    let second_access = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo_status(&server, &second_access).await, 200);

    // The spent token again: refused, and the whole family with it.
    let (status, body) = refresh(&server, PORTAL, &first_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(&server, PORTAL, &second_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the newest token is revoked too"
    );
    assert_eq!(userinfo_status(&server, &second_access).await, 401);

    // A narrower scope may be asked for, a wider one not.
    let third = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let token = third["refresh_token"].as_str().unwrap();
    let (status, body) = token_call(
        &server,
        "token",
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = token_call(
        &server,
        "token",
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(
        status, 200,
        "a refused scope does not spend the token: {body}"
    );
    assert_eq!(body["scope"], "openid");
    let narrowed = body["refresh_token"].as_str().unwrap().to_string();
    let (_, body) = introspect(&server, &narrowed).await;
    assert_eq!(
        body["scope"], "openid profile email",
        "the refresh token keeps the grant's scope"
    );
    // Another client cannot use a portal refresh token, and its attempt does not spend it.
    let (status, _) = token_call(
        &server,
        "token",
        ("other", "other-secret-0123456789"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &narrowed),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refresh(&server, PORTAL, &narrowed).await.0, 200);
}

async fn refresh_follows_the_sso_session(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_more_clients()).await;
    server.add_member("member0001", "健保 太郎", None);
    let online = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let offline = login_and_exchange(
        &server,
        &browser(),
        ("offline", "offline-secret-0123456789"),
        "member0001",
        &[("scope", "openid offline_access")],
    )
    .await;
    assert_eq!(
        offline["refresh_expires_in"], 0,
        "offline tokens have no fixed end"
    );
    assert_eq!(
        jwt_part(offline["id_token"].as_str().unwrap(), 0)["alg"],
        "EdDSA"
    );
    verify_jws(offline["id_token"].as_str().unwrap(), &jwks(&server).await);
    // Past the SSO idle time (30 min), the online token is dead, the offline one alive.
    server.clock.advance(1801);
    let (status, _) = token_call(
        &server,
        "token",
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", online["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = token_call(
        &server,
        "token",
        ("offline", "offline-secret-0123456789"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", offline["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["expires_in"], 60,
        "the client's own access-token lifetime"
    );
    // A client not allowed offline_access is told so.
    let response = browser()
        .get(authorize_url(
            &server,
            "portal",
            &[("scope", "openid offline_access")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("invalid_scope")
    );
}

async fn client_credentials_for_service_accounts(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_more_clients()).await;
    let (status, body) = token_call(
        &server,
        "token",
        SERVICE,
        &[("grant_type", "client_credentials"), ("scope", "api.read")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = verify_jws(body["access_token"].as_str().unwrap(), &jwks(&server).await);
    assert_eq!(claims["aud"], json!(["api"]));
    assert_eq!(claims["azp"], "service");
    assert_eq!(claims["sub"], "service");
    assert_eq!(claims["scope"], "api.read");
    let (status, body) = token_call(
        &server,
        "token",
        SERVICE,
        &[("grant_type", "client_credentials"), ("scope", "api.admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = token_call(
        &server,
        "token",
        PORTAL,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // Its token introspects as active for a resource server.
    let token = token_call(
        &server,
        "token",
        SERVICE,
        &[("grant_type", "client_credentials")],
    )
    .await
    .1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) =
        token_call(&server, "token/introspect", PORTAL, &[("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "service");
    assert_eq!(body["scope"], "api.read api.write");
}

async fn introspection_and_revocation(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_more_clients()).await;
    server.add_member("member0001", "健保 太郎", None);
    let tokens = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let (status, body) = introspect(&server, access).await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "portal");
    assert_eq!(body["username"], "member0001");
    assert_eq!(body["scope"], "openid profile email");
    assert!(body["exp"].as_i64().unwrap() > server.clock_now());
    let (_, body) = introspect(&server, refresh).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Refresh");
    let (_, body) = introspect(&server, "garbage").await;
    assert_eq!(body, json!({"active": false}));
    // A public client may not introspect.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/protocol/openid-connect/token/introspect",
            server.issuer()
        ))
        .form(&[("client_id", "spa"), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Another client's token is not yours to revoke.
    let (status, body) = token_call(&server, "revoke", SERVICE, &[("token", access)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (status, _) = token_call(&server, "revoke", PORTAL, &[("token", access)]).await;
    assert_eq!(status, 200);
    assert_eq!(introspect(&server, access).await.1["active"], false);
    assert_eq!(userinfo_status(&server, access).await, 401);
    let (status, _) = token_call(
        &server,
        "revoke",
        PORTAL,
        &[("token", refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = token_call(
        &server,
        "token",
        PORTAL,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Unknown tokens are fine (RFC 7009 §2.2).
    assert_eq!(
        token_call(&server, "revoke", PORTAL, &[("token", "nothing-like-it")])
            .await
            .0,
        200
    );
}

async fn private_key_jwt(backend: Backend) {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let random = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
        .unwrap();
    let point = key.public_key().as_ref().to_vec();
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let jwk = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..])}]});
    let realm = realm_toml(REDIRECT)
        + &format!("\n[[clients]]\nclient_id = \"signed\"\nservice_account = true\nredirect_uris = []\nscopes = [\"api.read\"]\njwks = '{jwk}'\n");
    let server = TestServer::start_with(&database, &realm).await;
    let token_endpoint = format!("{}/protocol/openid-connect/token", server.issuer());
    let assertion = |jti: &str, audience: &str| {
        let header = b64(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
            .to_string()
            .as_bytes());
        let now = server.clock_now();
        let claims = b64(json!({"iss": "signed", "sub": "signed", "aud": audience, "jti": jti, "iat": now, "exp": now + 60}).to_string().as_bytes());
        let signing_input = format!("{header}.{claims}");
        let signature = key.sign(&random, signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", b64(signature.as_ref()))
    };
    let call = |assertion: String| {
        let url = token_endpoint.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let good = assertion("one", &token_endpoint);
    assert_eq!(call(good.clone()).await, 200);
    assert_eq!(call(good).await, 401, "an assertion is single-use");
    assert_eq!(
        call(assertion("two", &server.issuer())).await,
        200,
        "the issuer is an accepted audience"
    );
    assert_eq!(
        call(assertion("three", "https://elsewhere.example/")).await,
        401
    );
    let mut forged = assertion("four", &token_endpoint);
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert_eq!(call(forged).await, 401);
}

async fn key_rotation_keeps_old_tokens_valid_until_they_expire(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let before = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let old_access = before["access_token"].as_str().unwrap().to_string();
    let old_kid = jwt_part(&old_access, 0)["kid"]
        .as_str()
        .unwrap()
        .to_string();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_monban"))
        .args(["keys", "rotate", "--realm", "test", "--config-dir"])
        .arg(&server.config_dir)
        .env("MONBAN_DATABASE_URL", &database.url)
        .env("MONBAN_LOG", "error")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Instances pick the new keys up within their cache time.
    server.clock.advance(31);
    let published = jwks(&server).await;
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 6, "three old keys and three new: {kids:?}");
    assert!(kids.contains(&old_kid.as_str()));
    // Old tokens still verify; new ones are signed with a new key.
    assert_eq!(userinfo_status(&server, &old_access).await, 200);
    verify_jws(&old_access, &published);
    let after = login_and_exchange(&server, &browser(), PORTAL, "member0001", &[]).await;
    let new_kid = jwt_part(after["access_token"].as_str().unwrap(), 0)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_kid, old_kid);
    // Once every token they signed has expired (5 min access tokens + margin), they leave.
    server.clock.advance(300 + 300 + 1);
    let published = jwks(&server).await;
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 3);
    assert!(!kids.contains(&old_kid.as_str()));
    assert!(kids.contains(&new_kid.as_str()));
}

async fn prompt_and_max_age(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let first = login_and_exchange(&server, &browser, PORTAL, "member0001", &[]).await;
    let first_auth_time = jwt_part(first["id_token"].as_str().unwrap(), 1)["auth_time"]
        .as_i64()
        .unwrap();
    server.clock.advance(120);

    // With a session, prompt=none answers at once, with the original auth_time.
    let response = browser
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let code = param(&callback_params(&response), "code")
        .expect("prompt=none with a session gives a code")
        .to_string();
    let tokens = exchange(&server, PORTAL, &code).await;
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 1)["auth_time"].as_i64(),
        Some(first_auth_time)
    );

    // prompt=login and a max_age shorter than the session's age both show the form.
    for extra in [("prompt", "login"), ("max_age", "60")] {
        let response = browser
            .get(authorize_url(&server, "portal", &[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap();
        assert!(
            location.contains("/login-actions/authenticate"),
            "{extra:?} must show the form"
        );
    }
    let response = browser
        .get(authorize_url(&server, "portal", &[("max_age", "600")]))
        .send()
        .await
        .unwrap();
    assert!(
        param(&callback_params(&response), "code").is_some(),
        "a session young enough for max_age is used"
    );
    // prompt=none cannot re-authenticate: login_required.
    let response = browser
        .get(authorize_url(
            &server,
            "portal",
            &[("prompt", "none"), ("max_age", "60")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("login_required")
    );

    // id_token_hint: the session answers only for the member the hint names.
    let own_hint = first["id_token"].as_str().unwrap().to_string();
    let response = browser
        .get(authorize_url(
            &server,
            "portal",
            &[("prompt", "none"), ("id_token_hint", &own_hint)],
        ))
        .send()
        .await
        .unwrap();
    assert!(param(&callback_params(&response), "code").is_some());
    server.add_member("member0002", "健保 花子", None);
    let someone_else =
        login_and_exchange(&server, &support::browser(), PORTAL, "member0002", &[]).await;
    let other_hint = someone_else["id_token"].as_str().unwrap().to_string();
    let response = browser
        .get(authorize_url(
            &server,
            "portal",
            &[("prompt", "none"), ("id_token_hint", &other_hint)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("login_required")
    );
    let response = browser
        .get(authorize_url(
            &server,
            "portal",
            &[("id_token_hint", "forged.token.here")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("invalid_request")
    );

    // Logging in again moves auth_time.
    let again = login_and_exchange(
        &server,
        &browser,
        PORTAL,
        "member0001",
        &[("max_age", "60")],
    )
    .await;
    let again_auth_time = jwt_part(again["id_token"].as_str().unwrap(), 1)["auth_time"]
        .as_i64()
        .unwrap();
    assert_eq!(again_auth_time, first_auth_time + 120);
}

async fn claims_requested_by_name(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", Some("taro@example.jp"));
    let claims = r#"{"id_token":{"email":{"essential":true},"unknown_claim":null},"userinfo":{"name":null}}"#;
    let tokens = login_and_exchange(
        &server,
        &browser(),
        PORTAL,
        "member0001",
        &[("scope", "openid"), ("claims", claims)],
    )
    .await;
    let id = verify_jws(tokens["id_token"].as_str().unwrap(), &jwks(&server).await);
    assert_eq!(id["email"], "taro@example.jp", "asked for in the ID token");
    assert!(
        id.get("name").is_none() && id.get("preferred_username").is_none(),
        "{id}"
    );
    let userinfo: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/protocol/openid-connect/userinfo",
            server.issuer()
        ))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["name"], "健保 太郎", "asked for at userinfo");
    assert!(userinfo.get("email").is_none(), "{userinfo}");
    // Refreshed tokens release the same claims.
    let (status, refreshed) =
        refresh(&server, PORTAL, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        jwt_part(refreshed["id_token"].as_str().unwrap(), 1)["email"],
        "taro@example.jp"
    );
    // A claims parameter that is not JSON goes back as invalid_request.
    let response = browser()
        .get(authorize_url(&server, "portal", &[("claims", "{not json")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("invalid_request")
    );
}

on_both_backends! {
    claims_parameter => claims_requested_by_name;
    refresh_rotation => refresh_rotates_and_reuse_revokes_the_family;
    refresh_lifetimes => refresh_follows_the_sso_session;
    client_credentials => client_credentials_for_service_accounts;
    introspection_revocation => introspection_and_revocation;
    client_assertions => private_key_jwt;
    key_rotation => key_rotation_keeps_old_tokens_valid_until_they_expire;
    prompt_max_age => prompt_and_max_age;
}
