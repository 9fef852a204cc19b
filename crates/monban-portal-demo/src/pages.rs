//! HTML pages, rendered with tera from templates compiled into the binary.

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::Value;
use tera::{Context, Tera};

use crate::oidc::{error_chain, PortalError};
use crate::session::SignedInUser;

const TEMPLATES: [(&str, &str); 4] = [
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("logout.html", include_str!("../templates/logout.html")),
];

pub struct Pages {
    tera: Tera,
}

#[derive(Serialize)]
struct ClaimRow {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct UserView<'a> {
    display_name: &'a str,
}

impl Pages {
    pub fn new() -> anyhow::Result<Self> {
        let mut tera = Tera::new();
        // Autoescaping is on for `.html` names, so claim values cannot inject markup.
        tera.add_raw_templates(TEMPLATES)
            .map_err(|e| anyhow::anyhow!("templates: {}", error_chain(&e)))?;
        Ok(Pages { tera })
    }

    pub fn home(&self, user: Option<&SignedInUser>) -> HttpResponse {
        let mut context = Context::new();
        context.insert(
            "user",
            &user.map(|u| UserView {
                display_name: &u.display_name,
            }),
        );
        if let Some(user) = user {
            let claims: Vec<ClaimRow> = user
                .id_token_claims
                .iter()
                .map(|(key, value)| ClaimRow {
                    key: key.clone(),
                    value: match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                })
                .collect();
            context.insert("claims", &claims);
            context.insert(
                "userinfo_json",
                &serde_json::to_string_pretty(&user.userinfo).unwrap_or_default(),
            );
        }
        self.render("index.html", &context, StatusCode::OK)
    }

    /// The portal's own question before it sends the member to Monban's logout (SPEC §7).
    pub fn logout_confirmation(&self) -> HttpResponse {
        self.render("logout.html", &Context::new(), StatusCode::OK)
    }

    pub fn error(&self, error: &PortalError) -> HttpResponse {
        let mut context = Context::new();
        context.insert("message", &error.message);
        context.insert("detail", &error.detail);
        self.render("error.html", &context, error.status)
    }

    fn render(&self, name: &str, context: &Context, status: StatusCode) -> HttpResponse {
        match self.tera.render(name, context) {
            Ok(body) => HttpResponse::build(status)
                .content_type(ContentType::html())
                .insert_header(("Cache-Control", "no-store"))
                .body(body),
            Err(e) => {
                eprintln!("rendering {name} failed: {}", error_chain(&e));
                HttpResponse::InternalServerError()
                    .content_type(ContentType::plaintext())
                    .body("ページを表示できませんでした。/ に戻ってください。")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use openidconnect::core::CoreIdToken;
    use std::str::FromStr;

    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0IiwiYXVkIjoicG9ydGFsIiwic3ViIjoiMSIsImV4cCI6MSwiaWF0IjoxfQ.c2ln";

    fn body(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn signed_out_home_offers_login() {
        let pages = Pages::new().unwrap();
        let html = body(pages.home(None));
        assert!(html.contains("<html lang=\"ja\">"));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("<title>デモ健保ポータル</title>"));
        assert!(html.contains("href=\"/login\""));
        assert!(html.contains(">ログイン<"));
        assert!(!html.contains("ログアウト"));
    }

    #[test]
    fn signed_in_home_escapes_claims() {
        let pages = Pages::new().unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("name".into(), "<b>山田</b>".into());
        claims.insert("amr".into(), serde_json::json!(["pwd", "otp"]));
        let user = SignedInUser {
            display_name: "<b>山田</b>".into(),
            id_token_claims: claims,
            userinfo: serde_json::json!({"sub": "1", "note": "<script>"}),
            id_token: CoreIdToken::from_str(ID_TOKEN).unwrap(),
        };
        let html = body(pages.home(Some(&user)));
        assert!(
            html.contains("ようこそ、&lt;b&gt;山田&lt;/b&gt; さん"),
            "{html}"
        );
        assert!(html.contains("<tr><th>amr</th><td>[&quot;pwd&quot;,&quot;otp&quot;]</td></tr>"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("<th>amr</th>"));
        assert!(html.contains("href=\"/logout\""));
        assert!(html.contains(">ログアウト<"));
    }

    #[test]
    fn error_page_has_status_and_way_back() {
        let pages = Pages::new().unwrap();
        let response = pages.error(&PortalError::login_expired());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let html = body(response);
        assert!(html.contains("もう一度ログインしてください"));
        assert!(html.contains("href=\"/\""));
    }
}
