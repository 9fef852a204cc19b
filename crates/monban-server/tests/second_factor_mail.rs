//! The OTP-mail second factor (SPEC §4.3) over HTTP with a real SMTP server on 127.0.0.1: the
//! code arrives by mail and is accepted once; wrong, replayed, expired and superseded codes are
//! refused; five wrong tries end a code; "再送信" has a cool-down. On SQLite and PostgreSQL.

mod support;

use monban_smtp_sink::{Refuse, Sink};
use std::time::Duration;
use support::*;

const PORTAL: (&str, &str) = ("portal", "portal-secret-0123456789");

fn realm() -> String {
    // More failures allowed than tries per code, so the code's own limit shows.
    realm_toml(REDIRECT)
        .replace("max_failures = 3", "max_failures = 20")
        .replace(
            "display_title = \"テスト健保加入者ページ\"",
            "display_title = \"テスト健保加入者ページ\"\nshort_name = \"テスト健保\"",
        )
        + "\n[flows]\nbrowser = [\"password\", \"otp-mail\"]\n"
}

async fn start(database: &TestDatabase, sink: &Sink) -> TestServer {
    let smtp = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"monban@kenpo.test\"\n",
        sink.port
    );
    TestServer::start_configured(database, &realm(), &smtp, &[]).await
}

/// The code of mail number `count` (1-based), with its subject.
fn code_in_mail(sink: &Sink, count: usize) -> (String, String) {
    let received = sink.wait_for(count, Duration::from_secs(10));
    assert_eq!(received.len(), count, "mails received");
    let mail = received[count - 1].mail();
    let start = mail
        .text
        .find("ワンタイムパスワード：")
        .expect("the code line")
        + "ワンタイムパスワード：".len();
    let code: String = mail.text[start..].chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
    assert!(mail.html.contains(&code), "the HTML part has the code too");
    (code, mail.subject)
}

fn shows(form: &LoginForm, text: &str) -> bool {
    form.html.contains(text)
}

async fn otp_mail(backend: Backend) {
    let Some(database) = TestDatabase::new(backend) else {
        return;
    };
    let sink = Sink::start(Refuse::Nothing);
    let server = start(&database, &sink).await;
    server.add_member_who_chose("member0001", "otp-mail");
    server.add_member_who_chose("member0002", "otp-app");

    let browser = browser();
    let otp = after_password(&server, &browser, "member0001").await;
    for text in [
        "<h2 class=\"page-title\">ワンタイムパスワード (OTP) メール認証</h2>",
        "受信したワンタイムパスワードを入力してください。",
        "<label for=\"otp\">ワンタイムパスワード</label>",
        "autocomplete=\"one-time-code\"",
        "inputmode=\"numeric\"",
        ">実行</button>",
        ">再送信</button>",
        "※メールが届かない場合は再送信を選択してください",
    ] {
        assert!(shows(&otp, text), "missing {text}");
    }
    let (code, subject) = code_in_mail(&sink, 1);
    assert_eq!(subject, "【テスト健保】ワンタイムパスワードのお知らせ");
    assert_eq!(
        sink.received()[0].rcpt_to,
        vec!["TO:<member0001@kenpo.test>".to_string()]
    );
    // A reload sends nothing more.
    page(&server, browser.get(&otp.action).send().await.unwrap()).await;
    assert_eq!(sink.received().len(), 1);

    // Wrong, then malformed, then right.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let retry = page(&server, post(&browser, &otp, &[("otp", wrong)]).await).await;
    assert!(shows(&retry, "ワンタイムパスワードが正しくありません"));
    let retry = page(&server, post(&browser, &otp, &[("otp", "12ab")]).await).await;
    assert!(shows(&retry, "ワンタイムパスワードを数字6桁で入力して"));
    let response = post(&browser, &otp, &[("otp", &code)]).await;
    assert_eq!(response.status(), 302);
    let code_param = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    let tokens = exchange(&server, PORTAL, &code_param).await;
    let claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["acr"], "2");
    let amr = amr(&claims);
    assert!(
        ["pwd", "otp", "mfa"]
            .iter()
            .all(|m| amr.iter().any(|a| a == m)),
        "{amr:?}"
    );

    // A used code never works again: the next login mails a new one and refuses the old.
    let browser = support::browser();
    let otp = after_password(&server, &browser, "member0001").await;
    let (fresh, _) = code_in_mail(&sink, 2);
    if fresh != code {
        let retry = page(&server, post(&browser, &otp, &[("otp", &code)]).await).await;
        assert!(shows(&retry, "ワンタイムパスワードが正しくありません"));
    }

    // "再送信" right away: not yet. After the cool-down: a new code, and the old one is dead.
    let wait = page(&server, post(&browser, &otp, &[("action", "resend")]).await).await;
    assert!(shows(&wait, "しばらくしてから再送信してください"));
    assert_eq!(sink.received().len(), 2);
    server.clock.advance(31);
    let resent = page(&server, post(&browser, &otp, &[("action", "resend")]).await).await;
    assert!(shows(&resent, "新しいワンタイムパスワードを送信しました。"));
    let (newest, _) = code_in_mail(&sink, 3);
    if newest != fresh {
        let retry = page(&server, post(&browser, &otp, &[("otp", &fresh)]).await).await;
        assert!(shows(&retry, "ワンタイムパスワードが正しくありません"));
    }
    // Past its five minutes, the newest is refused too.
    server.clock.advance(301);
    let expired = page(&server, post(&browser, &otp, &[("otp", &newest)]).await).await;
    assert!(shows(&expired, "有効期限が切れたか"), "{}", expired.html);

    // Five wrong tries end a code, even the right one afterwards.
    server.clock.advance(31);
    post(&browser, &otp, &[("action", "resend")]).await;
    let (last, _) = code_in_mail(&sink, 4);
    let wrong = if last == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        post(&browser, &otp, &[("otp", wrong)]).await;
    }
    let ended = page(&server, post(&browser, &otp, &[("otp", &last)]).await).await;
    assert!(
        shows(&ended, "入力回数の上限に達しました"),
        "{}",
        ended.html
    );

    // A member who chose another method is not asked for a mailed code.
    let other = support::browser();
    let form = open_login_form(&other, &server.base, &authorize_url(&server, "portal", &[])).await;
    assert_eq!(
        submit_login(&other, &form, "member0002", PASSWORD)
            .await
            .status(),
        302
    );
    assert_eq!(sink.received().len(), 4);
}

on_both_backends! {
    otp_mail_second_factor => otp_mail;
}
