//! The first-login set-up (SPEC §3) as the engine runs it from the realm's `[flows]`: the
//! birthdate check (§3.1). On SQLite and PostgreSQL.

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

on_both_backends! {
    birthdate => birthdate_check;
    birthdate_lockout => wrong_birthdates_lock_the_account;
}
