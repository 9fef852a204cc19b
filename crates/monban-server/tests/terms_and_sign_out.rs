//! Terms of use (SPEC §3.2: declined, accepted with version and time, re-accepted after a new
//! version, changed while the page was open) and "全てのデバイスからサインアウトする" ending the
//! member's other sessions. Over HTTP, on SQLite and PostgreSQL.

mod support;

use monban_smtp_sink::{Refuse, Sink};
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");

async fn terms_declined_and_re_accepted(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let server = start_set_up(&database, r#"["terms"]"#, &sink).await;
    server.add_member("member0001", "健保 太郎", None);

    // Declining ends the login: the client hears access_denied, with its state.
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[("state", "s-123")]),
    )
    .await;
    let terms = parse_login_form(
        &server.base,
        &submit_login(&browser, &form, "member0001", PASSWORD)
            .await
            .text()
            .await
            .unwrap(),
    );
    let response = post(
        &browser,
        &terms,
        &[("decision", "decline"), ("terms_version", "1")],
    )
    .await;
    assert_eq!(response.status(), 302);
    let params = callback_params(&response);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("s-123"));
    assert!(param(&params, "code").is_none());
    // The login is over: its page is gone.
    let after = browser.get(&terms.action).send().await.unwrap();
    assert!(after
        .text()
        .await
        .unwrap()
        .contains("ログインの有効期限切れ"));

    // Accepting records the version and the time.
    let browser = support::browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let terms = parse_login_form(
        &server.base,
        &submit_login(&browser, &form, "member0001", PASSWORD)
            .await
            .text()
            .await
            .unwrap(),
    );
    let response = post(
        &browser,
        &terms,
        &[("decision", "accept"), ("terms_version", "1")],
    )
    .await;
    assert_eq!(response.status(), 302);
    let member = server
        .store
        .find_user_by_user_id("test", "member0001")
        .unwrap()
        .unwrap();
    assert_eq!(
        server.store.terms_accepted_at(&member.id, 1).unwrap(),
        Some(server.clock_now())
    );
    // Accepted once: the next login goes straight through.
    let browser = support::browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    assert_eq!(
        submit_login(&browser, &form, "member0001", PASSWORD)
            .await
            .status(),
        302
    );

    // A new version: everybody sees the terms again after authenticating.
    server
        .store
        .publish_terms("test", "第2版の利用規約", server.clock_now())
        .unwrap();
    let browser = support::browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let terms = parse_login_form(
        &server.base,
        &submit_login(&browser, &form, "member0001", PASSWORD)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_shows(
        &terms,
        &["第2版の利用規約", "name=\"terms_version\" value=\"2\""],
    );
    // Published again while the page was open: agreeing to version 2 is not agreeing to 3.
    server
        .store
        .publish_terms("test", "第3版の利用規約", server.clock_now())
        .unwrap();
    let page = post_page(
        &server,
        &browser,
        &terms,
        &[("decision", "accept"), ("terms_version", "2")],
    )
    .await;
    assert_shows(&page, &["利用規約が更新されました。", "第3版の利用規約"]);
    assert_eq!(server.store.terms_accepted_at(&member.id, 2).unwrap(), None);
    let response = post(
        &browser,
        &page,
        &[("decision", "accept"), ("terms_version", "3")],
    )
    .await;
    assert_eq!(response.status(), 302);
    assert!(server
        .store
        .terms_accepted_at(&member.id, 3)
        .unwrap()
        .is_some());
}

async fn sign_out_everywhere_ends_other_sessions(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let server = start_set_up(&database, "[]", &sink).await;
    server.add_member("member0001", "健保 太郎", None);
    // A session on another device, with a refresh token.
    let phone = browser();
    let tokens = login_and_exchange(&server, &phone, PORTAL, "member0001", &[]).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    // The admin requires a new password (and a verification of the address this member does
    // not have: not asked); the member ticks "全てのデバイスからサインアウトする".
    let member = server
        .store
        .find_user_by_user_id("test", "member0001")
        .unwrap()
        .unwrap();
    server
        .store
        .require_action(&member.id, "verify-email", server.clock_now())
        .unwrap();
    server
        .store
        .require_action(&member.id, "update-password", server.clock_now())
        .unwrap();
    let pc = support::browser();
    let form = open_login_form(&pc, &server.base, &authorize_url(&server, "portal", &[])).await;
    let page = parse_login_form(
        &server.base,
        &submit_login(&pc, &form, "member0001", PASSWORD)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_shows(&page, &["パスワードの更新"]);
    let response = post(
        &pc,
        &page,
        &[
            ("password-new", "n3w-password"),
            ("password-confirm", "n3w-password"),
            ("logout-sessions", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), 302);

    // The phone's refresh token and SSO session are gone; the new session works.
    let (status, _) = token_call(
        &server,
        "token",
        PORTAL,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let again = phone
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let location = again.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("error=login_required"), "{location}");
    // Done once, not asked again.
    let later = support::browser();
    let form = open_login_form(&later, &server.base, &authorize_url(&server, "portal", &[])).await;
    assert_eq!(
        submit_login(&later, &form, "member0001", "n3w-password")
            .await
            .status(),
        302
    );
}

on_both_backends! {
    terms => terms_declined_and_re_accepted;
    sign_out_everywhere => sign_out_everywhere_ends_other_sessions;
}
