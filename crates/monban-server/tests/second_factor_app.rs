//! The OTP-app second factor (SPEC §4.2) over HTTP: a member chooses it at the first login and
//! sets up an app on "ワンタイムパスワードの設定" (QR code, or the key typed by hand), then logs
//! in with its codes on "ワンタイムパスワードの入力". Codes are computed with the tests' own
//! implementation of RFC 6238 (`support/otp_app.rs`), not Monban's. Wrong codes,
//! replays and codes outside the clock-drift window are refused; wrong codes lock the account;
//! a second device is chosen by name. The key is stored sealed. On SQLite and PostgreSQL.

mod support;

use monban_store::sealed::SecretBox;
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");
const PERIOD: i64 = OTP_PERIOD;

fn realm() -> String {
    realm_toml(REDIRECT)
        + r#"
[flows]
browser = ["password", "otp-app"]
first_login = ["user-id-and-method", "configure-otp"]

[second_factors]
offered = ["otp-app"]
"#
}

#[test]
fn the_tests_own_totp_matches_rfc_6238() {
    // Appendix B: key "12345678901234567890", T = 59 → 94287082 (8 digits; 6: 287082).
    assert_eq!(code_at_step(b"12345678901234567890", 59 / 30), "287082");
    // T = 1111111109 → 07081804.
    assert_eq!(
        code_at_step(b"12345678901234567890", 1_111_111_109 / 30),
        "081804"
    );
    assert_eq!(
        base32_decode("gezd gnbv GY3T QOJQ GEZDGNBVGY3TQOJQ"),
        b"12345678901234567890"
    );
}

// ---- driving the pages ----

/// A code that is not `right`.
fn other_than(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

fn member_pk(server: &TestServer, user_id: &str) -> String {
    server
        .store
        .find_user_by_user_id("test", user_id)
        .unwrap()
        .unwrap()
        .id
}

/// Sets up device `name` on the set-up page: accepted, on to the client.
async fn set_up_device(
    server: &TestServer,
    browser: &reqwest::Client,
    setup: &LoginForm,
    name: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let (key, response) = set_up_app(server, browser, setup, name, extra).await;
    assert_eq!(response.status(), 302, "the set-up of {name} is accepted");
    key
}

/// A first login that chooses the OTP app and sets up device `name`; returns its key.
async fn first_login_with_app(
    server: &TestServer,
    browser: &reqwest::Client,
    user_id: &str,
    name: &str,
) -> Vec<u8> {
    server.add_member(user_id, "健保 太郎", None);
    let choice = after_password(server, browser, user_id).await;
    let setup = post_page(
        server,
        browser,
        &choice,
        &[("user_id", user_id), ("method", "otp-app")],
    )
    .await;
    set_up_device(server, browser, &setup, name, &[]).await
}

/// Enters `code` on the OTP page (for device `device`, if given).
async fn enter_code(
    browser: &reqwest::Client,
    otp: &LoginForm,
    code: &str,
    device: Option<&str>,
) -> reqwest::Response {
    let mut fields = vec![("otp", code)];
    if let Some(device) = device {
        fields.push(("device", device));
    }
    post(browser, otp, &fields).await
}

/// A whole login with `code`: whether it reached the client.
async fn logs_in_with(server: &TestServer, user_id: &str, code: &str) -> bool {
    let browser = browser();
    let otp = after_password(server, &browser, user_id).await;
    assert_shows(&otp, &["ワンタイムパスワードの入力"]);
    let response = enter_code(&browser, &otp, code, None).await;
    if response.status() == 302 {
        return true;
    }
    let retry = page(server, response).await;
    assert_shows(&retry, &["ワンタイムパスワードが正しくありません"]);
    false
}

// ---- the tests ----

async fn set_up_page(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm()).await;
    server.add_member("tmp0000001", "健保 太郎", None);
    let browser = browser();
    let choice = after_password(&server, &browser, "tmp0000001").await;
    assert_shows(
        &choice,
        &[">ワンタイムパスワード (OTP) アプリ認証</option>"],
    );
    let setup = post_page(
        &server,
        &browser,
        &choice,
        &[("user_id", "member.app1"), ("method", "otp-app")],
    )
    .await;
    assert_shows(
        &setup,
        &[
            "<title>ワンタイムパスワードの設定 - テスト健保加入者ページ</title>",
            "⚠ アカウントを有効にするにはワンタイムパスワードのセットアップが必要です。",
            "次のいずれかのアプリケーションをモバイルにインストールします。",
            "<li>Google Authenticator</li>",
            "<li>Microsoft Authenticator</li>",
            "<li>FreeOTP</li>",
            "アプリケーションを開き、バーコードをスキャンします。",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"",
            ">スキャンできませんか？</button>",
            "アプリケーションから提供されたワンタイムパスワードを入力し、送信をクリックしてセットアップを終了します。",
            "<label for=\"totp\">ワンタイムパスワード <span class=\"required\">*</span></label>",
            "autocomplete=\"one-time-code\"",
            "<label for=\"userLabel\">デバイス名 <span class=\"required\">*</span></label>",
            "OTPデバイスの管理に役立つデバイス名を指定します。",
            "<label for=\"logout-sessions\">全てのデバイスからサインアウトする</label>",
            ">実行</button>",
        ],
    );
    assert_lacks(&setup, "<code id=\"otp-key\">");

    // "スキャンできませんか？": the key in groups of four and the settings; and back.
    let manual = page(
        &server,
        post(&browser, &setup, &[("action", "manual")]).await,
    )
    .await;
    let shown = shown_key(&manual);
    let groups: Vec<&str> = shown.split(' ').collect();
    assert_eq!(
        groups.len(),
        8,
        "160 bits are 32 base32 characters: {shown}"
    );
    assert!(groups.iter().all(|g| g.len() == 4
        && g.bytes()
            .all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))));
    assert_shows(
        &manual,
        &[
            "アプリケーションを開き、キーを入力します：",
            ">バーコードをスキャンしますか？</button>",
            "アプリケーションで設定できる場合は、次の設定値を使用します。",
            "<li>タイプ: 時間ベース</li>",
            "<li>アルゴリズム: SHA1</li>",
            "<li>桁: 6</li>",
            "<li>間隔: 30</li>",
        ],
    );
    assert_lacks(&manual, "<svg");
    let scan = page(
        &server,
        post(&browser, &manual, &[("action", "scan")]).await,
    )
    .await;
    assert_shows(&scan, &["<svg", ">スキャンできませんか？</button>"]);
    // A reload keeps the key the app may already hold.
    let reloaded = page(&server, browser.get(&setup.action).send().await.unwrap()).await;
    let again = page(
        &server,
        post(&browser, &reloaded, &[("action", "manual")]).await,
    )
    .await;
    assert_eq!(shown_key(&again), shown);
    let key = base32_decode(&shown);
    let right = code_now(&server, &key);

    // Each problem its own message; the device name comes back, the code never does.
    let empty = post_page(&server, &browser, &manual, &[("mode", "manual")]).await;
    assert_shows(
        &empty,
        &[
            "ワンタイムパスワードを入力してください。",
            "デバイス名を入力してください。",
            "<code id=\"otp-key\">",
        ],
    );
    let fields = [
        ("mode", "manual"),
        ("totp", other_than(&right)),
        ("userLabel", "iPhone"),
    ];
    let wrong = post_page(&server, &browser, &manual, &fields).await;
    assert_shows(&wrong, &["認証コードが異なります", "value=\"iPhone\""]);
    assert_lacks(&wrong, other_than(&right));
    let long = "あ".repeat(65);
    let too_long = post_page(
        &server,
        &browser,
        &manual,
        &[("totp", &right), ("userLabel", &long)],
    )
    .await;
    assert_shows(&too_long, &["デバイス名は64文字以内で入力してください。"]);
    let pk = member_pk(&server, "member.app1");
    assert!(server.store.otp_devices_of(&pk).unwrap().is_empty());

    // The right code (an app given the key in lowercase computes the same) and a name.
    let lowercase = base32_decode(&shown.to_lowercase());
    let response = post(
        &browser,
        &manual,
        &[
            ("totp", &code_now(&server, &lowercase)),
            ("userLabel", " iOS "),
        ],
    )
    .await;
    assert_eq!(response.status(), 302, "on to the portal");
    let tokens = exchange(
        &server,
        PORTAL,
        param(&callback_params(&response), "code").unwrap(),
    )
    .await;
    let claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["preferred_username"], "member.app1");

    // Stored under its name, with the step of the code that proved it, and the key sealed.
    let devices = server.store.otp_devices_of(&pk).unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(device.name, "iOS");
    assert_eq!(
        (device.algorithm.as_str(), device.digits, device.period),
        ("SHA1", 6, 30)
    );
    assert_eq!(device.last_used_step, step_now(&server));
    assert!(!device
        .secret
        .windows(key.len())
        .any(|w| w == key.as_slice()));
    let base32: String = shown.split(' ').collect();
    assert!(!String::from_utf8_lossy(&device.secret).contains(&base32));
    let at_rest = std::fs::read_to_string(server.config_dir.join("encryption.key")).unwrap();
    let sealer = SecretBox::from_base64(&at_rest).unwrap();
    let opened = sealer
        .open(&format!("otp-device:{}", device.id), &device.secret)
        .unwrap();
    assert_eq!(
        opened, key,
        "sealed with the at-rest key, bound to the device"
    );
    let kinds: Vec<String> = server
        .store
        .audit_event_kinds("test")
        .unwrap()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert!(kinds.contains(&"UPDATE_TOTP".to_string()), "{kinds:?}");
}

async fn login_with_codes(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm()).await;
    let key = first_login_with_app(&server, &browser(), "member0001", "iOS").await;

    let browser = browser();
    let otp = after_password(&server, &browser, "member0001").await;
    assert_shows(
        &otp,
        &[
            "<title>ワンタイムパスワードの入力 - テスト健保加入者ページ</title>",
            "<label for=\"otp\">ワンタイムパスワード</label>",
            "autocomplete=\"one-time-code\"",
            "inputmode=\"numeric\"",
            ">トップページへ</button>",
        ],
    );
    assert_lacks(&otp, "type=\"radio\"");
    // The code that set the device up is spent; a malformed one is only a typing mistake.
    let replay = page(
        &server,
        enter_code(&browser, &otp, &code_now(&server, &key), None).await,
    )
    .await;
    assert_shows(&replay, &["ワンタイムパスワードが正しくありません"]);
    let malformed = page(&server, enter_code(&browser, &otp, "12ab", None).await).await;
    assert_shows(
        &malformed,
        &["ワンタイムパスワードを数字6桁で入力してください。"],
    );

    // The next step's code: in, as a second factor.
    server.clock.advance(PERIOD);
    let code = code_now(&server, &key);
    let response = enter_code(&browser, &otp, &code, None).await;
    assert_eq!(response.status(), 302);
    let tokens = exchange(
        &server,
        PORTAL,
        param(&callback_params(&response), "code").unwrap(),
    )
    .await;
    let claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["acr"], "2");
    let amr = amr(&claims);
    assert!(
        ["pwd", "otp", "mfa"]
            .iter()
            .all(|m| amr.iter().any(|a| a == m)),
        "{amr:?}"
    );
    // Never again, even in another login.
    assert!(!logs_in_with(&server, "member0001", &code).await);

    // Clock drift: one step old is accepted, three steps old is not; one step ahead is.
    server.clock.advance(2 * PERIOD);
    let now = step_now(&server);
    assert!(logs_in_with(&server, "member0001", &code_at_step(&key, now - 1)).await);
    server.clock.advance(3 * PERIOD);
    let now = step_now(&server);
    assert!(!logs_in_with(&server, "member0001", &code_at_step(&key, now - 3)).await);
    assert!(logs_in_with(&server, "member0001", &code_at_step(&key, now + 1)).await);
    // Once a later step was accepted, an earlier step's code is no more.
    assert!(!logs_in_with(&server, "member0001", &code_at_step(&key, now)).await);
}

async fn wrong_codes_lock(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm()).await;
    let key = first_login_with_app(&server, &browser(), "member0002", "Android").await;
    server.clock.advance(PERIOD);
    let right = code_now(&server, &key);

    let browser = browser();
    let otp = after_password(&server, &browser, "member0002").await;
    // The test realm allows 3 failures.
    for attempt in 1..=3 {
        let retry = page(
            &server,
            enter_code(&browser, &otp, other_than(&right), None).await,
        )
        .await;
        let expected = if attempt < 3 {
            "ワンタイムパスワードが正しくありません"
        } else {
            "アカウントがロックされています。"
        };
        assert_shows(&retry, &[expected]);
    }
    let locked = page(&server, enter_code(&browser, &otp, &right, None).await).await;
    assert_shows(&locked, &["アカウントがロックされています。"]);
    let kinds: Vec<String> = server
        .store
        .audit_event_kinds("test")
        .unwrap()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "LOGIN_ERROR").count(),
        3,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"USER_LOCKED".to_string()), "{kinds:?}");
}

async fn a_second_device(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let server = TestServer::start_with(&database, &realm()).await;
    let phone = browser();
    let first = first_login_with_app(&server, &phone, "member0003", "iOS").await;
    let pk = member_pk(&server, "member0003");

    // The society's admin lets the member add a device: after the code, the set-up page. The
    // name of the first device is refused; the member signs out everywhere else.
    server
        .store
        .require_action(&pk, "configure-otp", server.clock_now())
        .unwrap();
    server.clock.advance(PERIOD);
    let pc = browser();
    let otp = after_password(&server, &pc, "member0003").await;
    let setup = page(
        &server,
        enter_code(&pc, &otp, &code_now(&server, &first), None).await,
    )
    .await;
    let manual = page(&server, post(&pc, &setup, &[("action", "manual")]).await).await;
    let second = base32_decode(&shown_key(&manual));
    assert_ne!(second, first, "every device has a key of its own");
    let fields = [
        ("totp", code_now(&server, &second)),
        ("userLabel", "iOS".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let taken = post_page(&server, &pc, &manual, &fields).await;
    assert_shows(
        &taken,
        &["このデバイス名は既に使用されています。別のデバイス名を入力してください。"],
    );
    set_up_device(&server, &pc, &taken, "iOS2", &[("logout-sessions", "on")]).await;
    let signed_out = phone
        .get(authorize_url(&server, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let location = signed_out.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=login_required"), "{location}");

    // Two devices: chosen by name, the first by default.
    let devices = server.store.otp_devices_of(&pk).unwrap();
    let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["iOS", "iOS2"]);
    server.clock.advance(PERIOD);
    let browser = browser();
    let otp = after_password(&server, &browser, "member0003").await;
    for device in &devices {
        assert_shows(
            &otp,
            &[
                &format!(
                    "<label for=\"device-{}\">{}</label>",
                    device.id, device.name
                ),
                &format!("type=\"radio\" value=\"{}\"", device.id),
            ],
        );
    }
    assert_shows(&otp, &[&format!("value=\"{}\" checked", devices[0].id)]);
    // iOS2's code is not iOS's; chosen as iOS2, it is.
    let code = code_now(&server, &second);
    let wrong = page(
        &server,
        enter_code(&browser, &otp, &code, Some(&devices[0].id)).await,
    )
    .await;
    assert_shows(&wrong, &["ワンタイムパスワードが正しくありません"]);
    assert_shows(&wrong, &[&format!("value=\"{}\" checked", devices[0].id)]);
    let response = enter_code(&browser, &otp, &code, Some(&devices[1].id)).await;
    assert_eq!(response.status(), 302);

    // A member who chose another method is not made to set up an app nobody would ask for.
    server.add_member("member0004", "健保 花子", None);
    let other = member_pk(&server, "member0004");
    let now = server.clock_now();
    let store = &server.store;
    store
        .set_user_id_and_method(&other, "member0004", Some("otp-mail"), now)
        .unwrap()
        .unwrap();
    store.complete_first_login(&other, now).unwrap();
    store.require_action(&other, "configure-otp", now).unwrap();
    let fresh = support::browser();
    let form = open_login_form(&fresh, &server.base, &authorize_url(&server, "portal", &[])).await;
    let response = submit_login(&fresh, &form, "member0004", PASSWORD).await;
    assert_eq!(response.status(), 302, "straight to the portal");
}

on_both_backends! {
    set_up => set_up_page;
    login => login_with_codes;
    lockout => wrong_codes_lock;
    second_device => a_second_device;
}
