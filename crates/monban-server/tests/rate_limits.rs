//! Rate limits per client network (`[rate_limits]` in monban.toml): a password spray across
//! many accounts, which no account's own lockout notices, is paused after the limit, counted
//! across instances and under concurrency; `X-Forwarded-For` is believed from trusted proxies
//! only. On SQLite and PostgreSQL.

mod support;

use support::*;

const WRONG: &str = "無効なユーザIDまたはパスワードです。";
const PAUSED: &str = "短時間に多くの送信があったため、受け付けを一時停止しています。";

/// A server whose monban.toml begins with `top` (top-level keys) and ends with `tables`.
async fn start(database: &TestDatabase, top: &str, tables: &str) -> TestServer {
    let config = tempfile::tempdir().unwrap();
    write_config(config.path(), &realm_toml(REDIRECT));
    let monban_toml = config.path().join("monban.toml");
    let text = std::fs::read_to_string(&monban_toml).unwrap();
    std::fs::write(&monban_toml, format!("{top}\n{text}\n{tables}\n")).unwrap();
    TestServer::start_in(config, &database.url).await
}

/// Posts a login for `user_id` (from `forwarded_for`, when given); status and page.
async fn try_login(
    browser: &reqwest::Client,
    form: &LoginForm,
    user_id: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request = browser.post(&form.action).form(&[
        ("csrf_token", form.csrf_token.as_str()),
        ("username", user_id),
        ("password", PASSWORD),
    ]);
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, response.text().await.unwrap())
}

async fn login_form(server: &TestServer, browser: &reqwest::Client) -> LoginForm {
    open_login_form(browser, &server.base, &authorize_url(server, "portal", &[])).await
}

async fn a_spray_is_paused_for_the_rest_of_the_minute(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = start(&database, "", "[rate_limits]\nlogin_posts_per_minute = 3").await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = login_form(&server, &browser).await;

    // Three guesses at three accounts: each answered as usual.
    for user_id in ["guess0001", "guess0002", "guess0003"] {
        let (status, _, page) = try_login(&browser, &form, user_id, None).await;
        assert_eq!(status, 200);
        assert!(page.contains(WRONG), "{user_id}");
    }
    // The fourth post, even with the right password, is not looked at: a page saying to wait,
    // in the member's language, with how long.
    let (status, retry_after, page) = try_login(&browser, &form, "member0001", None).await;
    assert_eq!(status, 429);
    assert!(page.contains("しばらくお待ちください"), "{page}");
    assert!(page.contains(PAUSED), "{page}");
    assert!(!page.contains(WRONG));
    let wait: i64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // A forwarded-for header from the client itself changes nothing (no proxy is trusted).
    let (status, _, _) = try_login(&browser, &form, "member0001", Some("203.0.113.50")).await;
    assert_eq!(status, 429);
    // Showing pages is not limited.
    let shown = browser.get(&form.action).send().await.unwrap();
    assert_eq!(shown.status(), 200);

    // The next minute, the member logs in.
    server.clock.advance(wait);
    let (status, _, _) = try_login(&browser, &form, "member0001", None).await;
    assert_eq!(status, 302, "back to the client with a code");
}

async fn trusted_proxies_name_the_client(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = start(
        &database,
        "trusted_proxies = [\"127.0.0.1\"]",
        "[rate_limits]\nlogin_posts_per_minute = 2",
    )
    .await;
    let browser = browser();
    let form = login_form(&server, &browser).await;
    for _ in 0..2 {
        let (status, _, _) = try_login(&browser, &form, "guess0001", Some("203.0.113.1")).await;
        assert_eq!(status, 200);
    }
    let (status, _, _) = try_login(&browser, &form, "guess0001", Some("203.0.113.1")).await;
    assert_eq!(status, 429, "the client behind the balancer is paused");
    // Another client behind the same balancer has its own count; one that prepends a made-up
    // address to the header is still counted as itself.
    let (status, _, _) = try_login(&browser, &form, "guess0001", Some("203.0.113.2")).await;
    assert_eq!(status, 200);
    let forged = "198.51.100.77, 203.0.113.1";
    let (status, _, _) = try_login(&browser, &form, "guess0001", Some(forged)).await;
    assert_eq!(status, 429);
    // An IPv6 client is counted by its /64.
    for address in ["2001:db8:1:2::a", "2001:db8:1:2::b"] {
        let (status, _, _) = try_login(&browser, &form, "guess0001", Some(address)).await;
        assert_eq!(status, 200, "{address}");
    }
    let (status, _, _) = try_login(&browser, &form, "guess0001", Some("2001:db8:1:2::c")).await;
    assert_eq!(status, 429);
}

/// Posts arriving at once, at two instances, are all counted: exactly the limit gets through.
async fn concurrent_posts_at_two_instances_share_one_count(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let first = start(&database, "", "[rate_limits]\nlogin_posts_per_minute = 5").await;
    let second = TestServer::start_beside(&first, &database).await;
    // One window for both: the instances' clocks agree.
    second.clock.advance(first.clock_now() - second.clock_now());
    let mut posts = Vec::new();
    for n in 0..12 {
        let server = if n % 2 == 0 { &first } else { &second };
        let browser = browser();
        let form = login_form(server, &browser).await;
        posts.push(async move { try_login(&browser, &form, "guess0001", None).await.0 });
    }
    let statuses = futures_util::future::join_all(posts).await;
    let answered = statuses.iter().filter(|s| **s == 200).count();
    let paused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((answered, paused), (5, 7), "{statuses:?}");
}

on_both_backends! {
    spray_paused => a_spray_is_paused_for_the_rest_of_the_minute;
    trusted_proxies => trusted_proxies_name_the_client;
    concurrent_posts => concurrent_posts_at_two_instances_share_one_count;
}
