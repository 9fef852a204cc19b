//! The first-login set-up of SPEC §3 end to end over HTTP, in both orders the manuals show:
//! every page, every validation message of §3.3, §3.5 and §3.6, the verification mail caught
//! by a real SMTP server on 127.0.0.1, progress kept across a closed tab and a restart, and a
//! mail server that refuses. On SQLite and PostgreSQL. (Terms and sign-out everywhere:
//! `terms_and_sign_out.rs`.)

mod support;

use monban_smtp_sink::{Refuse, Sink};
use std::time::Duration;
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");

/// Realm B's order (ajinomotokenpo): birthdate → terms → email → verification → user ID +
/// method → new password, then the enrolment of the chosen second factor.
const ORDER_B: &str = r#"["birthdate", "terms", "update-email", "verify-email", "user-id-and-method", "update-password", "register-passkey", "configure-otp"]"#;
/// Realm A's order (daiwakenpo): birthdate → terms → user ID + method → new password → email,
/// then the enrolment of the chosen second factor.
const ORDER_A: &str = r#"["birthdate", "terms", "user-id-and-method", "update-password", "update-email", "register-passkey", "configure-otp"]"#;

/// Logs in with the temporary credentials and passes the birthdate check and the terms.
async fn through_birthdate_and_terms(
    server: &TestServer,
    browser: &reqwest::Client,
    user_id: &str,
) -> LoginForm {
    let form = open_login_form(browser, &server.base, &authorize_url(server, "portal", &[])).await;
    let response = submit_login(browser, &form, user_id, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let birthdate = parse_login_form(&server.base, &response.text().await.unwrap());
    assert_shows(&birthdate, &["生年月日の入力"]);
    let terms = post_page(server, browser, &birthdate, &[("birthdate", "19790822")]).await;
    assert_shows(
        &terms,
        &[
            "<h2 class=\"page-title\">利用規約</h2>",
            "テスト健保 利用規約 第1版\n第1条 本サービスは加入者のためのものです。",
            ">同意する</button>",
            ">同意しない</button>",
        ],
    );
    post_page(
        server,
        browser,
        &terms,
        &[("decision", "accept"), ("terms_version", "1")],
    )
    .await
}

/// The "メールアドレスの確認" link of the latest mail to `to`.
fn verification_link(sink: &Sink, count: usize, to: &str) -> String {
    let received = sink.wait_for(count, Duration::from_secs(10));
    assert_eq!(received.len(), count, "mails received");
    let last = received.last().unwrap();
    assert_eq!(last.rcpt_to, vec![format!("TO:<{to}>")]);
    let mail = last.mail();
    let start = mail
        .text
        .find("http://")
        .unwrap_or_else(|| panic!("no link in the text part:\n{}", mail.text));
    let link: String = mail.text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(
        link.contains("/realms/test/login-actions/verify-email?key="),
        "{link}"
    );
    assert!(mail.html.contains("メールアドレスの確認"), "{}", mail.html);
    assert!(
        mail.html.contains(&link.replace('&', "&amp;")),
        "the HTML part carries the link"
    );
    link
}

/// Opens the link as a member would on another device: the page, then its button.
async fn open_link(link: &str) -> String {
    let other_device = browser();
    let page = other_device.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("メールアドレスを確認する"), "{html}");
    let key = link.split("key=").nth(1).unwrap();
    let response = other_device
        .post(link.split('?').next().unwrap())
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

async fn realm_b_first_login(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let server = start_set_up(&database, ORDER_B, &sink).await;
    server.add_member("tmp0000001", "健保 太郎", Some("taro@kenpo.test"));
    server.add_member("tmp0000002", "健保 花子", Some("hanako@kenpo.test"));
    let browser = browser();

    let email = through_birthdate_and_terms(&server, &browser, "tmp0000001").await;
    assert_shows(
        &email,
        &[
            "<h2 class=\"page-title\">メールアドレスの更新</h2>",
            "value=\"taro@kenpo.test\"",
            "autocomplete=\"email\"",
            "<label for=\"logout-sessions\">全てのデバイスからサインアウトする</label>",
            ">実行</button>",
        ],
    );
    // The four messages of the manual (§3.3).
    let empty = post_page(&server, &browser, &email, &[("email", "")]).await;
    assert_shows(&empty, &["メールアドレスを入力してください。"]);
    let taken = post_page(&server, &browser, &email, &[("email", "Hanako@Kenpo.test")]).await;
    assert_shows(
        &taken,
        &["他のアカウントで設定されているメールアドレスです。別のメールアドレスを入力してください。"],
    );
    for invalid in ["taro?@kenpo.test", "taro.@kenpo.test", "taro"] {
        let page = post_page(&server, &browser, &email, &[("email", invalid)]).await;
        assert_shows(
            &page,
            &["無効なメールアドレスです。入力したメールアドレスに誤りがないかご確認ください。"],
        );
        assert_lacks(&page, "最大文字数");
    }
    let long = format!("{}@{}.kenpo.test", "a".repeat(60), "b".repeat(184));
    assert_eq!(long.len(), 256);
    let too_long = post_page(&server, &browser, &email, &[("email", &long)]).await;
    assert_shows(
        &too_long,
        &[
            "無効なメールアドレスです。入力したメールアドレスに誤りがないかご確認ください。",
            "設定可能なメールアドレスの最大文字数は255文字です。",
        ],
    );
    // Nothing was changed by the refused attempts.
    let stored = server
        .store
        .find_user_by_user_id("test", "tmp0000001")
        .unwrap()
        .unwrap();
    assert_eq!(stored.email.as_deref(), Some("taro@kenpo.test"));

    // A new address: the verification page, and the mail to that address.
    let verify = post_page(
        &server,
        &browser,
        &email,
        &[("email", "Taro.New@Kenpo.test")],
    )
    .await;
    assert_shows(
        &verify,
        &[
            "<h2 class=\"page-title\">メール認証</h2>",
            "taro.new@kenpo.test 宛にメールを送信しました。",
            ">再送信</button>",
        ],
    );
    let link = verification_link(&sink, 1, "taro.new@kenpo.test");
    let mail = sink.received()[0].mail();
    assert!(mail.subject.contains("テスト健保"), "{}", mail.subject);
    // Refreshing before the link was opened keeps the member here, and sends nothing more.
    let refreshed = browser.get(&verify.action).send().await.unwrap();
    let refreshed = parse_login_form(&server.base, &refreshed.text().await.unwrap());
    assert_shows(&refreshed, &["メール認証"]);
    assert_eq!(sink.received().len(), 1);
    let not_yet = post_page(&server, &browser, &verify, &[("action", "continue")]).await;
    assert_shows(&not_yet, &["メールアドレスの確認がまだ完了していません。"]);

    // The link, opened elsewhere; it works once.
    let done = open_link(&link).await;
    assert!(done.contains("メールアドレスが確認されました。"), "{done}");
    let again = open_link(&link).await;
    assert!(
        again.contains("このリンクは無効か、有効期限が切れています。"),
        "{again}"
    );

    // Back in the original tab, a refresh goes on to the user ID.
    let user_id = browser.get(&verify.action).send().await.unwrap();
    let user_id = parse_login_form(&server.base, &user_id.text().await.unwrap());
    assert_shows(
        &user_id,
        &[
            "<h2 class=\"page-title\">ユーザIDの変更・認証方法の設定</h2>",
            "value=\"tmp0000001\"",
            "<summary>利用不可文字一覧を見る</summary>",
            "以下の文字はユーザIDに利用できません：",
            "<code>&lt;</code>（小なり記号）",
            "<code>§</code>（セクション記号）",
            "<label for=\"method\">認証方法 <span class=\"required\">*</span></label>",
            ">ワンタイムパスワード (OTP) アプリ認証</option>",
            ">ワンタイムパスワード (OTP) メール認証</option>",
        ],
    );
    // §3.5: each rule its own message.
    let cases: &[(&str, &str, &str)] = &[
        ("", "otp-app", "ユーザIDを入力してください。"),
        (
            "abc123",
            "otp-app",
            "ユーザIDは8文字以上で入力してください。",
        ),
        (
            "abcdefgh1234567",
            "otp-app",
            "ユーザIDは13文字以内で入力してください。",
        ),
        (
            "abcd<efg12",
            "otp-app",
            "ユーザIDに利用できない文字が含まれています。",
        ),
        (
            "abcd efg12",
            "otp-app",
            "ユーザIDに利用できない文字が含まれています。",
        ),
        (
            "TMP0000002",
            "otp-app",
            "このユーザIDは既に使用されています。",
        ),
        ("member.new1", "", "認証方法を選択してください。"),
        ("member.new1", "sms", "認証方法を選択してください。"),
    ];
    for (typed, method, message) in cases {
        let page = post_page(
            &server,
            &browser,
            &user_id,
            &[("user_id", typed), ("method", method)],
        )
        .await;
        assert_shows(&page, &[message]);
    }
    let password = post_page(
        &server,
        &browser,
        &user_id,
        &[("user_id", "Member.New1"), ("method", "otp-app")],
    )
    .await;
    let stored = server
        .store
        .find_user_by_user_id("test", "member.new1")
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id, "member.new1", "stored in lowercase");
    assert_eq!(stored.second_factor_method.as_deref(), Some("otp-app"));
    assert!(stored.email_verified);

    // §3.6: each rule its own message.
    assert_shows(
        &password,
        &[
            "<h2 class=\"page-title\">パスワードの更新</h2>",
            "⚠ パスワードを変更する必要があります。",
            "<label for=\"password-new\">パスワード <span class=\"required\">*</span></label>",
            "<label for=\"password-confirm\">パスワード確認 <span class=\"required\">*</span></label>",
            "autocomplete=\"new-password\"",
            "<label for=\"logout-sessions\">全てのデバイスからサインアウトする</label>",
        ],
    );
    let cases: &[(&str, &str, &str)] = &[
        ("", "", "パスワードを入力してください。"),
        (
            "a1b2c3",
            "a1b2c3",
            "パスワードは8文字以上で入力してください。",
        ),
        (
            &format!("a1{}", "b".repeat(63)),
            &format!("a1{}", "b".repeat(63)),
            "パスワードは64文字以内で入力してください。",
        ),
        (
            "abcd1234あ",
            "abcd1234あ",
            "パスワードに利用できない文字が含まれています。",
        ),
        (
            "Daiwauser",
            "Daiwauser",
            "パスワードには数字を1文字以上含めてください。",
        ),
        (
            "12345678",
            "12345678",
            "パスワードには英字を1文字以上含めてください。",
        ),
        (
            "Member.New1",
            "Member.New1",
            "ユーザIDと同じパスワードは設定できません。",
        ),
        (
            PASSWORD,
            PASSWORD,
            "現在のパスワードと同じパスワードは設定できません。",
        ),
        ("d00000000", "d00000001", "パスワードが一致していません。"),
    ];
    for (new, confirm, message) in cases {
        let page = post_page(
            &server,
            &browser,
            &password,
            &[("password-new", new), ("password-confirm", confirm)],
        )
        .await;
        assert_shows(&page, &[message]);
        if !new.is_empty() {
            // Passwords are never sent back to the browser.
            assert_lacks(&page, &format!("value=\"{new}\""));
        }
    }
    // The manual's example of a good password; then the OTP app the member chose is set up
    // before the portal (SPEC §3: no method chosen but never enrolled).
    let setup = post_page(
        &server,
        &browser,
        &password,
        &[
            ("password-new", "d00000000"),
            ("password-confirm", "d00000000"),
        ],
    )
    .await;
    let (key, response) = set_up_app(&server, &browser, &setup, "iOS", &[]).await;
    assert_eq!(response.status(), 302);
    let code = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    exchange(&server, PORTAL, &code).await;

    // From now on: the new user ID and password, and no set-up.
    let fresh = support::browser();
    let form = open_login_form(&fresh, &server.base, &authorize_url(&server, "portal", &[])).await;
    assert_eq!(
        submit_login(&fresh, &form, "tmp0000001", "d00000000")
            .await
            .status(),
        200
    );
    let form = open_login_form(&fresh, &server.base, &authorize_url(&server, "portal", &[])).await;
    let otp = parse_login_form(
        &server.base,
        &submit_login(&fresh, &form, "MEMBER.NEW1", "d00000000")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_shows(&otp, &["ワンタイムパスワードの入力"]);
    server.clock.advance(OTP_PERIOD);
    let response = post(&fresh, &otp, &[("otp", &code_now(&server, &key))]).await;
    assert_eq!(response.status(), 302);
}

async fn realm_a_first_login(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let server = start_set_up(&database, ORDER_A, &sink).await;
    server.add_member("tmp0000001", "健保 太郎", Some("taro@kenpo.test"));
    let browser = browser();
    let user_id = through_birthdate_and_terms(&server, &browser, "tmp0000001").await;
    assert_shows(&user_id, &["ユーザIDの変更・認証方法の設定"]);
    // Keeping the temporary ID is allowed; only the method must be chosen.
    let password = post_page(
        &server,
        &browser,
        &user_id,
        &[("user_id", "tmp0000001"), ("method", "otp-mail")],
    )
    .await;
    assert_shows(&password, &["パスワードの更新"]);
    let email = post_page(
        &server,
        &browser,
        &password,
        &[
            ("password-new", "d00000000"),
            ("password-confirm", "d00000000"),
        ],
    )
    .await;
    assert_shows(
        &email,
        &["メールアドレスの更新", "value=\"taro@kenpo.test\""],
    );
    // Keeping the address is allowed too; this realm does not verify it, so no mail.
    let response = post(&browser, &email, &[("email", "taro@kenpo.test")]).await;
    assert_eq!(response.status(), 302);
    assert!(param(&callback_params(&response), "code").is_some());
    assert!(sink.received().is_empty());
    let stored = server
        .store
        .find_user_by_user_id("test", "tmp0000001")
        .unwrap()
        .unwrap();
    assert!(stored.first_login_completed);
    assert!(!stored.temporary_id);
    assert_eq!(stored.second_factor_method.as_deref(), Some("otp-mail"));
}

async fn progress_survives_a_closed_tab_and_a_restart(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let first = start_set_up(&database, ORDER_A, &sink).await;
    first.add_member("tmp0000001", "健保 太郎", Some("taro@kenpo.test"));
    let browser = browser();
    let user_id = through_birthdate_and_terms(&first, &browser, "tmp0000001").await;
    let password = post_page(
        &first,
        &browser,
        &user_id,
        &[("user_id", "taro.kenpo"), ("method", "otp-app")],
    )
    .await;
    assert_shows(&password, &["パスワードの更新"]);

    // The instance restarts; the page's next request reaches the new one.
    first.stop().await;
    let second = TestServer::start_beside(&first, &database).await;
    let moved = |form: &LoginForm| LoginForm {
        action: form.action.replace(&first.base, &second.base),
        csrf_token: form.csrf_token.clone(),
        html: form.html.clone(),
    };
    let reloaded = browser.get(moved(&password).action).send().await.unwrap();
    let reloaded = parse_login_form(&second.base, &reloaded.text().await.unwrap());
    assert_shows(&reloaded, &["パスワードの更新"]);

    // The tab is closed; a new login (with the new user ID) resumes where the member was.
    let fresh = support::browser();
    let form = open_login_form(&fresh, &second.base, &authorize_url(&second, "portal", &[])).await;
    let response = submit_login(&fresh, &form, "taro.kenpo", PASSWORD).await;
    let page = parse_login_form(&second.base, &response.text().await.unwrap());
    assert_shows(&page, &["パスワードの更新"]);
    assert_lacks(&page, "生年月日の入力");
}

async fn a_refusing_mail_server_keeps_the_member_where_they_were(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Everything);
    let server = start_set_up(&database, ORDER_B, &sink).await;
    server.add_member("tmp0000001", "健保 太郎", Some("taro@kenpo.test"));
    let browser = browser();
    let email = through_birthdate_and_terms(&server, &browser, "tmp0000001").await;
    let verify = post_page(&server, &browser, &email, &[("email", "taro@kenpo.test")]).await;
    assert_shows(
        &verify,
        &[
            "メールを送信できませんでした。メールアドレスに誤りがないかご確認ください。",
            ">再送信</button>",
            "メールアドレスを変更する",
        ],
    );
    assert_lacks(&verify, "宛にメールを送信しました。");
    // The way back to correct the address.
    let email_again = post_page(&server, &browser, &verify, &[("action", "change-email")]).await;
    assert_shows(&email_again, &["メールアドレスの更新"]);

    // Temporarily unavailable: a different message; after recovery, "再送信" works.
    sink.set_refuse(Refuse::RecipientTemporarily);
    let verify = post_page(
        &server,
        &browser,
        &email_again,
        &[("email", "taro2@kenpo.test")],
    )
    .await;
    assert_shows(
        &verify,
        &["メールを送信できませんでした。しばらくしてから「再送信」を押してください。"],
    );
    sink.set_refuse(Refuse::Nothing);
    let sent = post_page(&server, &browser, &verify, &[("action", "resend")]).await;
    assert_shows(&sent, &["taro2@kenpo.test 宛にメールを送信しました。"]);
    let link = verification_link(&sink, 1, "taro2@kenpo.test");

    // An expired link is refused.
    server.clock.advance(601);
    let expired = open_link(&link).await;
    assert!(
        expired.contains("このリンクは無効か、有効期限が切れています。"),
        "{expired}"
    );
}

on_both_backends! {
    realm_b => realm_b_first_login;
    realm_a => realm_a_first_login;
    closed_tab_and_restart => progress_survives_a_closed_tab_and_a_restart;
    refusing_mail_server => a_refusing_mail_server_keeps_the_member_where_they_were;
}
