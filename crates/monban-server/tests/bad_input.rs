//! No server errors on bad input: every endpoint gets a few hundred malformed, oversized,
//! repeated or missing parameters (a seeded generator, so a failure is reproducible) and must
//! answer each with a 4xx (or a normal answer), never a 5xx.

mod support;

use support::*;

/// xorshift64*: small, seeded, good enough to mix inputs.
struct Mixer(u64);

impl Mixer {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn value(&mut self) -> String {
        match self.next() % 10 {
            0 => String::new(),
            1 => "x".repeat(20_000),
            2 => "%zz%".into(),
            3 => "ユーザ\u{0}ID\u{202e}".into(),
            4 => "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into(),
            5 => "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.AAAA".into(),
            6 => "a b c openid offline_access".into(),
            7 => "-1".into(),
            8 => "https://evil.example/cb".into(),
            _ => format!("{}", self.next()),
        }
    }
}

const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "ui_locales",
    "login_hint",
    "response_mode",
    "request",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "token",
    "token_type_hint",
    "id_token_hint",
    "post_logout_redirect_uri",
    "csrf_token",
    "username",
    "password",
    "session_code",
    "session",
    "kc_locale",
    "key",
    "email",
    "user_id",
    "method",
    "password-new",
    "password-confirm",
    "logout-sessions",
    "decision",
    "terms_version",
    "action",
    "birthdate",
    "x",
    "",
];

fn random_params(mixer: &mut Mixer) -> Vec<(String, String)> {
    let count = mixer.next() % 8;
    let mut params: Vec<(String, String)> = (0..count)
        .map(|_| (mixer.pick(NAMES).to_string(), mixer.value()))
        .collect();
    if mixer.next().is_multiple_of(3) {
        // A plausible request with one part spoiled is more searching than pure noise.
        params.push(("client_id".into(), "portal".into()));
        params.push(("redirect_uri".into(), REDIRECT.into()));
        params.push((
            "grant_type".into(),
            mixer
                .pick(&[
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "password",
                ])
                .into(),
        ));
    }
    params
}

#[actix_web::test]
async fn no_endpoint_answers_bad_input_with_a_server_error() {
    let database = TestDatabase::new(Backend::Sqlite).unwrap();
    let server = TestServer::start(&database).await;
    let client = browser();
    let issuer = server.issuer();
    let mut mixer = Mixer(0x5EED_0F40_4E00_0001);
    let endpoints = [
        ("GET", "/protocol/openid-connect/auth"),
        ("POST", "/protocol/openid-connect/auth"),
        ("POST", "/protocol/openid-connect/token"),
        ("POST", "/protocol/openid-connect/token/introspect"),
        ("POST", "/protocol/openid-connect/revoke"),
        ("GET", "/protocol/openid-connect/userinfo"),
        ("POST", "/protocol/openid-connect/userinfo"),
        ("GET", "/protocol/openid-connect/logout"),
        ("POST", "/protocol/openid-connect/logout"),
        ("POST", "/protocol/openid-connect/logout/logout-confirm"),
        ("GET", "/login-actions/authenticate"),
        ("POST", "/login-actions/authenticate"),
        ("GET", "/login-actions/verify-email"),
        ("POST", "/login-actions/verify-email"),
    ];
    let authorizations = [
        "",
        "Basic",
        "Basic !!!",
        "Basic cG9ydGFsOg==",
        "Bearer",
        "Bearer x.y.z",
        "Negotiate abc",
    ];
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ];
    for round in 0..400 {
        let (method, path) = endpoints[round % endpoints.len()];
        let params = random_params(&mut mixer);
        let encoded = serde_urlencoded::to_string(&params).unwrap();
        let url = format!("{issuer}{path}");
        let mut request = if method == "GET" {
            client.get(format!("{url}?{encoded}"))
        } else {
            client.post(&url).body(encoded.clone())
        };
        let content_type = mixer.pick(&content_types);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let authorization = mixer.pick(&authorizations);
        if !authorization.is_empty() {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "round {round}: {method} {path} with {params:?} ({content_type}, {authorization:?}) answered {status}");
    }

    // Oversized bodies are refused before they are read.
    let huge = "a=".to_string() + &"x".repeat(200_000);
    for path in [
        "/protocol/openid-connect/token",
        "/login-actions/authenticate",
    ] {
        let response = client
            .post(format!("{issuer}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert!(
            (400..500).contains(&response.status().as_u16()),
            "{path}: {}",
            response.status()
        );
    }
    // Unknown realms and paths are 404s.
    for path in [
        "/realms/nowhere/protocol/openid-connect/token",
        "/realms/nowhere/.well-known/openid-configuration",
        "/nothing",
    ] {
        let response = client
            .post(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
