//! RP-initiated logout and back-channel logout: a test receiver plays the client's
//! `backchannel_logout_uri` and checks the logout token it gets. On SQLite and PostgreSQL.

mod support;

use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::{Arc, Mutex};
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A client's back-channel endpoint: records each `logout_token`; fails the first
/// `failures` deliveries with a 500.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn receiver(failures: usize) -> Receiver {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let remaining = Arc::new(Mutex::new(failures));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        let remaining = remaining.clone();
        App::new().route(
            "/backchannel",
            web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                let seen = seen.clone();
                let remaining = remaining.clone();
                async move {
                    let mut left = remaining.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return HttpResponse::InternalServerError().finish();
                    }
                    if let Some((_, token)) = form.iter().find(|(k, _)| k == "logout_token") {
                        seen.lock().unwrap().push(token.clone());
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    Receiver { url, tokens }
}

impl Receiver {
    /// Waits (20 s at most, for a loaded machine) for `count` logout tokens.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..400 {
            let tokens = self.tokens.lock().unwrap().clone();
            if tokens.len() >= count {
                return tokens;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} logout token(s), got {}",
            self.tokens.lock().unwrap().len()
        );
    }
}

fn realm_with_backchannel(uri: &str) -> String {
    realm_toml(REDIRECT).replacen(
        "base_url = \"https://portal.example/\"",
        &format!("base_url = \"https://portal.example/\"\nbackchannel_logout_uri = \"{uri}\""),
        1,
    )
}

fn logout_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}/protocol/openid-connect/logout?{query}", server.issuer())
}

async fn logout_with_id_token_hint(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let receiver = receiver(0).await;
    let server = TestServer::start_with(&database, &realm_with_backchannel(&receiver.url)).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let tokens = login_and_exchange(&server, &browser, PORTAL, "member0001", &[]).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let id_claims = jwt_part(id_token, 1);
    // The other client joins the session through SSO (it has no back-channel URI).
    let response = browser
        .get(authorize_url(&server, "other", &[]))
        .send()
        .await
        .unwrap();
    let code = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    exchange(&server, ("other", "other-secret-0123456789"), &code).await;

    let response = browser
        .get(logout_url(
            &server,
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", REDIRECT),
                ("state", "bye-state"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        302,
        "a valid hint logs out without a question"
    );
    assert_eq!(
        response.headers()["location"],
        format!("{REDIRECT}?state=bye-state")
    );
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("MONBAN_SESSION=;"));
    assert!(cleared, "the SSO cookie is removed");

    // The session and its tokens are gone.
    assert_eq!(
        userinfo_status(&server, tokens["access_token"].as_str().unwrap()).await,
        401
    );
    let (status, _) = token_call(
        &server,
        "token",
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let response = browser
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("login_required")
    );

    // Exactly one logout token, to the client that asked for back-channel logout.
    let delivered = receiver.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    let header = jwt_part(&delivered[0], 0);
    assert_eq!(header["typ"], "logout+jwt");
    let claims = verify_jws(&delivered[0], &jwks(&server).await);
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["aud"], "portal");
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims["events"][BACKCHANNEL_EVENT].is_object());
    assert!(
        claims.get("nonce").is_none(),
        "a logout token never carries a nonce"
    );
    assert!(claims["jti"].is_string() && claims["iat"].is_i64());
    let kinds: Vec<String> = server
        .store
        .audit_event_kinds("test")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(kinds.contains(&"LOGOUT".to_string()));
}

async fn logout_without_hint_asks_first(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    login_and_exchange(&server, &browser, PORTAL, "member0001", &[]).await;

    let response = browser
        .get(logout_url(
            &server,
            &[
                ("client_id", "portal"),
                ("post_logout_redirect_uri", REDIRECT),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("ログアウトしてもよろしいですか？"), "{page}");
    assert!(page.contains(">ログアウトする</button>"));
    let marker = "name=\"session_code\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let code = &page[start..start + page[start..].find('"').unwrap()];
    let confirm = format!(
        "{}/protocol/openid-connect/logout/logout-confirm",
        server.issuer()
    );

    // Another browser cannot confirm it.
    let stranger = support::browser()
        .post(&confirm)
        .form(&[("session_code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 400);
    let response = browser
        .post(&confirm)
        .form(&[("session_code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], REDIRECT);
    let response = browser
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&callback_params(&response), "error"),
        Some("login_required")
    );
    // Confirming twice does nothing more.
    assert_eq!(
        browser
            .post(&confirm)
            .form(&[("session_code", code)])
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    // Without a redirect: a page saying so.
    login_and_exchange(&server, &browser, PORTAL, "member0001", &[]).await;
    let page = browser
        .get(logout_url(&server, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find(marker).unwrap() + marker.len();
    let code = page[start..start + page[start..].find('"').unwrap()].to_string();
    let done = browser
        .post(&confirm)
        .form(&[("session_code", code.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("ログアウトしました。"));
}

async fn logout_requests_are_checked(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start(&database).await;
    let browser = browser();
    // An unregistered post-logout URI, or one without a client to check it against: refused.
    for pairs in [
        vec![
            ("client_id", "portal"),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("post_logout_redirect_uri", REDIRECT)],
        vec![("id_token_hint", "not.a.token")],
        vec![("client_id", "nobody")],
    ] {
        let response = browser
            .get(logout_url(&server, &pairs))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{pairs:?}");
        assert!(response.headers().get("location").is_none());
    }
}

async fn backchannel_delivery_is_retried(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let receiver = receiver(1).await;
    let server = TestServer::start_with(&database, &realm_with_backchannel(&receiver.url)).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let tokens = login_and_exchange(&server, &browser, PORTAL, "member0001", &[]).await;
    let sid = jwt_part(tokens["id_token"].as_str().unwrap(), 1)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .get(logout_url(
            &server,
            &[("id_token_hint", tokens["id_token"].as_str().unwrap())],
        ))
        .send()
        .await
        .unwrap();
    // The first attempt fails; the retry waits 5 s (of the server's clock).
    for _ in 0..400 {
        if server.store.backchannel_deliveries_of(&sid).unwrap()[0].attempts == 1 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let delivery = &server.store.backchannel_deliveries_of(&sid).unwrap()[0];
    assert_eq!(delivery.attempts, 1);
    assert!(delivery.last_error.as_deref().unwrap().contains("500"));
    assert!(delivery.delivered_at.is_none());
    server.clock.advance(6);
    receiver.wait_for(1).await;
    // The receiver has the token; Monban records the outcome right after.
    for _ in 0..400 {
        if server.store.backchannel_deliveries_of(&sid).unwrap()[0]
            .delivered_at
            .is_some()
        {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let delivery = &server.store.backchannel_deliveries_of(&sid).unwrap()[0];
    assert_eq!(delivery.attempts, 2);
    assert!(delivery.delivered_at.is_some(), "recorded as delivered");
}

on_both_backends! {
    with_hint => logout_with_id_token_hint;
    without_hint => logout_without_hint_asks_first;
    checked => logout_requests_are_checked;
    backchannel_retry => backchannel_delivery_is_retried;
}
