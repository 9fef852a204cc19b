//! The whole authorization-code flow against the real server, with the `openidconnect` crate
//! as the relying party: discovery → authorize (PKCE, nonce, state) → login form with CSRF →
//! callback (with `iss`) → token → ID token verified against the JWKS → userinfo. On SQLite and
//! on PostgreSQL.

mod support;

use openidconnect::core::{CoreClient, CoreGenderClaim, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, UserInfoClaims,
};
use support::*;

fn rp_http() -> openidconnect::reqwest::Client {
    // openidconnect requires redirects off (SSRF).
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn full_flow(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", Some("taro@example.jp"));
    let http = rp_http();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("portal".into()),
        Some(ClientSecret::new("portal-secret-0123456789".into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = browser();
    let form = open_login_form(&browser, &server.base, url.as_str()).await;
    assert!(form.html.contains("テスト健保加入者ページ"));
    assert!(form
        .html
        .contains("<label for=\"username\">ユーザID</label>"));
    // User IDs match case-insensitively.
    let response = submit_login(&browser, &form, "MEMBER0001", PASSWORD).await;
    assert_eq!(response.status(), 302);
    let callback = callback_params(&response);
    assert_eq!(param(&callback, "state"), Some(state.secret().as_str()));
    assert_eq!(
        param(&callback, "iss"),
        Some(server.issuer().as_str()),
        "RFC 9207 iss on the callback"
    );
    let code = param(&callback, "code").unwrap().to_string();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies against the JWKS");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "member0001");
    assert_eq!(
        claims.name().unwrap().get(None).unwrap().as_str(),
        "健保 太郎"
    );
    assert_eq!(claims.email().unwrap().as_str(), "taro@example.jp");
    assert_eq!(claims.email_verified(), Some(false));
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "1");
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    let raw = payload(&id_token.to_string());
    let sid = raw["sid"].as_str().expect("sid").to_string();
    let subject = claims.subject().as_str().to_string();
    assert_ne!(subject, "member0001", "sub is opaque, not the user ID");

    let userinfo: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), subject);
    assert_eq!(
        userinfo.preferred_username().unwrap().as_str(),
        "member0001"
    );

    let access = payload(tokens.access_token().secret());
    assert_eq!(access["aud"], "portal");
    assert_eq!(access["azp"], "portal");
    assert_eq!(access["sid"], sid.as_str());
    assert_eq!(access["scope"], "openid profile email");

    // A second client of the realm gets in through SSO, without the form, and its ES256 ID
    // token carries the same session.
    let other = CoreClient::from_provider_metadata(
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new("other".into()),
        Some(ClientSecret::new("other-secret-0123456789".into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (url, _, nonce) = other
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let response = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = param(&callback_params(&response), "code")
        .expect("SSO answers with a code at once")
        .to_string();
    let tokens = other
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token
        .claims(&other.id_token_verifier(), &nonce)
        .expect("the ES256 ID token verifies");
    assert_eq!(claims.subject().as_str(), subject);
    assert_eq!(payload(&id_token.to_string())["sid"], sid.as_str());
    assert_eq!(header(&id_token.to_string())["alg"], "ES256");

    // The login is recorded.
    let events = server.store.audit_event_kinds("test").unwrap();
    assert!(events.iter().any(|(kind, _)| kind == "LOGIN"));
}

fn header(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// Two instances on one database serve one login alternately: the form from the first, the
/// password to the second, the code to the first.
async fn two_instances_share_a_login(backend: Backend) {
    use reqwest::cookie::CookieStore;
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let first = TestServer::start(&database).await;
    let second = TestServer::start_beside(&first, &database).await;
    first.add_member("member0002", "健保 花子", None);
    let (browser, jar) = browser_with_jar();
    let form = open_login_form(&browser, &first.base, &authorize_url(&first, "portal", &[])).await;
    // A load balancer would send the next request anywhere: the browser's cookies go along.
    let first_url = url::Url::parse(&format!("{}/realms/test/", first.base)).unwrap();
    let second_url = url::Url::parse(&format!("{}/realms/test/", second.base)).unwrap();
    let cookies = jar
        .cookies(&first_url)
        .expect("the login set a browser cookie");
    for cookie in cookies.to_str().unwrap().split("; ") {
        jar.add_cookie_str(&format!("{cookie}; Path=/realms/test/"), &second_url);
    }
    let on_second = LoginForm {
        action: form.action.replace(&first.base, &second.base),
        ..form
    };
    let response = submit_login(&browser, &on_second, "member0002", PASSWORD).await;
    assert_eq!(
        response.status(),
        302,
        "the second instance continues the first one's login"
    );
    let code = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    let tokens = reqwest::Client::new()
        .post(format!("{}/protocol/openid-connect/token", first.issuer()))
        .basic_auth("portal", Some("portal-secret-0123456789"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    let body: serde_json::Value = tokens.json().await.unwrap();
    assert!(body["id_token"].is_string());
    // Both instances publish the same keys.
    let jwks = |base: String| async move {
        reqwest::get(format!("{base}/realms/test/protocol/openid-connect/certs"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(
        jwks(first.base.clone()).await,
        jwks(second.base.clone()).await
    );
}

on_both_backends! {
    full_code_flow_with_pkce => full_flow;
    two_instances_serve_one_login => two_instances_share_a_login;
}
