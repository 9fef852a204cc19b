//! The first-login set-up (SPEC §3) as the engine runs it from the realm's `[flows]`: the
//! birthdate check (§3.1), and how a form that moves the login on is answered. On SQLite and
//! PostgreSQL.

mod support;

use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");

fn realm_with_birthdate() -> String {
    realm_toml(REDIRECT) + "\n[flows]\nbrowser = [\"password\"]\nfirst_login = [\"birthdate\"]\n"
}

async fn birthdate_check(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_birthdate()).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let page = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(
        page.status(),
        200,
        "the password is right, but the set-up comes first"
    );
    let html = page.text().await.unwrap();
    for text in [
        "生年月日の入力",
        "本人確認のため生年月日での認証が必要です。生年月日を数字8桁で入力して下さい。",
        "<label for=\"birthdate\">生年月日 <span class=\"hint\">(入力例:19790822)</span></label>",
        "placeholder=\"YYYYMMDD\"",
        "inputmode=\"numeric\"",
        ">実行</button>",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    let step = parse_login_form(&server.base, &html);

    // Malformed input is a validation message and never counts toward the lockout (3 allowed).
    for typed in ["1979082", "19790230", "abcdefgh", ""] {
        let html = post(&browser, &step, &[("birthdate", typed)])
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("生年月日を数字8桁で入力して下さい。（入力例:19790822）"),
            "{typed}"
        );
    }
    // Wrong dates count: two are allowed here…
    for _ in 0..2 {
        let html = post(&browser, &step, &[("birthdate", "19800101")])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("生年月日が正しくありません。"));
    }
    // …and the right one goes on to the client.
    let response = post(&browser, &step, &[("birthdate", "19790822")]).await;
    assert_eq!(response.status(), 302);
    let code = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    exchange(&server, PORTAL, &code).await;

    // The first login is complete: the next login asks no birthdate.
    let fresh = support::browser();
    let form = open_login_form(&fresh, &server.base, &authorize_url(&server, "portal", &[])).await;
    assert_eq!(
        submit_login(&fresh, &form, "member0001", PASSWORD)
            .await
            .status(),
        302
    );
}

async fn wrong_birthdates_lock_the_account(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_birthdate()).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let html = submit_login(&browser, &form, "member0001", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    let step = parse_login_form(&server.base, &html);
    for _ in 0..3 {
        post(&browser, &step, &[("birthdate", "19800101")]).await;
    }
    let html = post(&browser, &step, &[("birthdate", "19790822")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("アカウントがロックされています。"),
        "even the right date is refused once locked"
    );
    // The password form says so too.
    let fresh = support::browser();
    let form = open_login_form(&fresh, &server.base, &authorize_url(&server, "portal", &[])).await;
    let html = submit_login(&fresh, &form, "member0001", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("アカウントがロックされています。"));
}

/// A form that moves the login on is answered with a redirect to the login's address, and the
/// next page is a GET of it: reloading the tab (SPEC §3.4, after verifying the address on
/// another device) asks for the page again instead of posting the last form once more. A form
/// answered with its own errors stays the answer to the post.
async fn moving_on_redirects_to_the_next_page(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm_with_birthdate()).await;
    server.add_member("member0001", "健保 太郎", None);
    let browser = browser_stopping_at_every_redirect();
    let form = open_login_form(
        &browser,
        &server.base,
        &authorize_url(&server, "portal", &[]),
    )
    .await;
    let moved = submit_login(&browser, &form, "member0001", PASSWORD).await;
    assert_eq!(moved.status(), 303, "the password moved the login on");
    let location = moved.headers()["location"].to_str().unwrap();
    assert_eq!(format!("{}{location}", server.base), form.action);
    assert_eq!(moved.headers()["cache-control"], "no-store");
    assert!(
        moved.text().await.unwrap().is_empty(),
        "no page in the redirect"
    );

    // The next page, as often as the member reloads it.
    for _ in 0..2 {
        let page = browser.get(&form.action).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("生年月日の入力"));
    }
    let step = parse_login_form(
        &server.base,
        &browser
            .get(&form.action)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // A wrong date is answered by the page itself, with its message.
    let wrong = post(&browser, &step, &[("birthdate", "19800101")]).await;
    assert_eq!(wrong.status(), 200);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("生年月日が正しくありません。"));
    // The last step goes straight back to the client.
    let done = post(&browser, &step, &[("birthdate", "19790822")]).await;
    assert_eq!(done.status(), 302);
    assert!(param(&callback_params(&done), "code").is_some());
}

on_both_backends! {
    birthdate => birthdate_check;
    birthdate_lockout => wrong_birthdates_lock_the_account;
    post_redirect_get => moving_on_redirects_to_the_next_page;
}
