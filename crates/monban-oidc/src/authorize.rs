//! The authorization request (`…/protocol/openid-connect/auth`), checked the way OIDC Core and
//! RFC 6749 §4.1.2.1 ask: an unknown client or redirect URI is shown as an error page and never
//! redirected to; every other problem goes back to the client as `error=…`.

use monban_core::config::{ClientConfig, RealmConfig};
use serde::{Deserialize, Serialize};

/// How the authorization response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

/// A validated authorization request; kept in the auth session while the member logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Vec<String>,
    #[serde(default)]
    pub claims: RequestedClaims,
}

/// Member claims a client asked for by name with the `claims` parameter (OIDC Core §5.5),
/// released whether or not a scope covers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    #[serde(default)]
    pub id_token: Vec<String>,
    #[serde(default)]
    pub userinfo: Vec<String>,
}

/// The member claims Monban can release by name.
pub const RELEASABLE_CLAIMS: [&str; 4] = ["preferred_username", "name", "email", "email_verified"];

impl RequestedClaims {
    /// Reads the `claims` parameter; names Monban does not know are ignored, as OIDC allows.
    pub fn parse(text: &str) -> Result<RequestedClaims, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| "claims must be a JSON object".to_string())?;
        let object = value.as_object().ok_or("claims must be a JSON object")?;
        let names = |member: &str| -> Result<Vec<String>, String> {
            match object.get(member) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Object(requested)) => Ok(requested
                    .keys()
                    .filter(|k| RELEASABLE_CLAIMS.contains(&k.as_str()))
                    .cloned()
                    .collect()),
                Some(_) => Err(format!("claims.{member} must be an object")),
            }
        };
        Ok(RequestedClaims {
            id_token: names("id_token")?,
            userinfo: names("userinfo")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// As stored: `None` when nothing was asked for.
    pub fn to_stored(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_stored(stored: Option<&str>) -> RequestedClaims {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

impl AuthorizationRequest {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why a request cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// Not safe to redirect: shown to the member as an error page.
    ErrorPage(ErrorPageReason),
    /// Sent back to the client's (verified) redirect URI.
    Redirect(ErrorRedirect),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPageReason {
    MissingClientId,
    UnknownClient,
    MissingRedirectUri,
    UnregisteredRedirectUri,
    RepeatedParameter,
}

impl ErrorPageReason {
    pub fn message_key(self) -> &'static str {
        match self {
            ErrorPageReason::MissingClientId | ErrorPageReason::UnknownClient => {
                "error_unknown_client"
            }
            ErrorPageReason::MissingRedirectUri | ErrorPageReason::UnregisteredRedirectUri => {
                "error_invalid_redirect_uri"
            }
            ErrorPageReason::RepeatedParameter => "error_invalid_request",
        }
    }
}

/// An OAuth error response to deliver to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

const SINGLE_VALUED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "kc_locale",
    "claims",
];

/// Parses and validates the request's parameters (query or form, in order).
pub fn parse_authorization_request(
    realm: &RealmConfig,
    params: &[(String, String)],
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let get = |name: &str| crate::param(params, name);
    let repeated = SINGLE_VALUED
        .iter()
        .any(|name| params.iter().filter(|(k, _)| k == name).count() > 1);

    let page = |reason| Err(AuthorizeRejection::ErrorPage(reason));
    let Some(client_id) = get("client_id") else {
        return page(ErrorPageReason::MissingClientId);
    };
    let Some(client) = realm.client(client_id) else {
        return page(ErrorPageReason::UnknownClient);
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return page(ErrorPageReason::MissingRedirectUri);
    };
    // Exact string comparison, as OAuth 2.1 and the Security BCP require: no prefixes, no
    // normalisation that an attacker could play with.
    if !client
        .redirect_uris
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return page(ErrorPageReason::UnregisteredRedirectUri);
    }
    if repeated {
        return page(ErrorPageReason::RepeatedParameter);
    }

    let state = get("state").map(str::to_string);
    let response_mode = match get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err(format!("response_mode {other} is not supported")),
    };
    let reject = |error: &'static str, description: String, mode: ResponseMode| {
        Err(AuthorizeRejection::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.to_string(),
            response_mode: mode,
            error,
            description,
            state: state.clone(),
        }))
    };
    let response_mode = match response_mode {
        Ok(mode) => mode,
        Err(description) => return reject("invalid_request", description, ResponseMode::Query),
    };
    if get("request").is_some() {
        return reject(
            "request_not_supported",
            "request objects are not supported".into(),
            response_mode,
        );
    }
    if get("request_uri").is_some() {
        return reject(
            "request_uri_not_supported",
            "request_uri is not supported".into(),
            response_mode,
        );
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return reject(
                "invalid_request",
                "response_type is required".into(),
                response_mode,
            )
        }
        Some(_) => {
            return reject(
                "unsupported_response_type",
                "only response_type=code is supported".into(),
                response_mode,
            )
        }
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();

    if scopes.iter().any(|s| s == "offline_access") && !client.offline_access {
        return reject(
            "invalid_scope",
            "this client may not request offline_access".into(),
            response_mode,
        );
    }
    let code_challenge =
        match check_pkce(client, get("code_challenge"), get("code_challenge_method")) {
            Ok(challenge) => challenge,
            Err(description) => return reject("invalid_request", description, response_mode),
        };

    let prompts: Vec<&str> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return reject(
            "invalid_request",
            "prompt=none cannot be combined with other values".into(),
            response_mode,
        );
    }
    let claims = match get("claims").map(RequestedClaims::parse) {
        None => RequestedClaims::default(),
        Some(Ok(claims)) => claims,
        Some(Err(description)) => return reject("invalid_request", description, response_mode),
    };
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => {
            return reject(
                "invalid_request",
                "max_age must be a non-negative integer".into(),
                response_mode,
            )
        }
    };
    let bounded =
        |value: Option<&str>, limit: usize| value.filter(|v| v.len() <= limit).map(str::to_string);
    if get("nonce").is_some_and(|n| n.len() > 512) || state.as_ref().is_some_and(|s| s.len() > 2048)
    {
        return reject(
            "invalid_request",
            "state or nonce is too long".into(),
            response_mode,
        );
    }
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        response_mode,
        scopes,
        state,
        nonce: get("nonce").map(str::to_string),
        code_challenge,
        prompt_none,
        prompt_login: prompts.contains(&"login"),
        max_age,
        login_hint: bounded(get("login_hint"), 255),
        // Keycloak's `kc_locale` wins over the standard `ui_locales`.
        ui_locales: get("kc_locale")
            .into_iter()
            .chain(get("ui_locales").unwrap_or("").split(' '))
            .filter(|s| !s.is_empty())
            .take(8)
            .map(str::to_string)
            .collect(),
        claims,
    })
}

/// PKCE (RFC 7636): only S256; required for public clients and for clients that ask for it.
fn check_pkce(
    client: &ClientConfig,
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, String> {
    match (challenge, method) {
        (None, None) if client.pkce_required() => {
            Err("PKCE is required: send code_challenge with method S256".into())
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method without code_challenge".into()),
        (Some(_), None) | (Some(_), Some("plain")) => {
            Err("code_challenge_method must be S256".into())
        }
        (Some(challenge), Some("S256")) => {
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(challenge.to_string()))
            } else {
                Err("code_challenge must be a base64url SHA-256 (43 characters)".into())
            }
        }
        (Some(_), Some(other)) => Err(format!("code_challenge_method {other} is not supported")),
    }
}

/// Does `verifier` match the S256 `challenge`? (RFC 7636 §4.6)
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine;
    use subtle::ConstantTimeEq;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return false;
    }
    let hash = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref());
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm() -> RealmConfig {
        let text = r#"
name = "demo"
display_title = "デモ"
[[clients]]
client_id = "portal"
secret = "0123456789abcdef"
redirect_uris = ["https://portal.example/cb"]
[[clients]]
client_id = "app"
public = true
redirect_uris = ["https://app.example/cb"]
"#;
        RealmConfig::parse("demo.toml", text, "demo", &|_| None).unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn a_good_request() {
        let request = parse_authorization_request(
            &realm(),
            &params(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb"),
                ("response_type", "code"),
                ("scope", "openid profile"),
                ("state", "s"),
                ("nonce", "n"),
                ("prompt", "login"),
                ("max_age", "60"),
            ]),
        )
        .unwrap();
        assert_eq!(request.scopes, vec!["openid", "profile"]);
        assert!(request.prompt_login && !request.prompt_none);
        assert_eq!(request.max_age, Some(60));
    }

    #[test]
    fn unknown_clients_and_redirects_are_never_redirected_to() {
        let realm = realm();
        let page =
            |pairs: &[(&str, &str)]| match parse_authorization_request(&realm, &params(pairs)) {
                Err(AuthorizeRejection::ErrorPage(reason)) => reason,
                other => panic!("{other:?}"),
            };
        assert_eq!(
            page(&[
                ("client_id", "nobody"),
                ("redirect_uri", "https://evil.example/")
            ]),
            ErrorPageReason::UnknownClient
        );
        assert_eq!(
            page(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb/")
            ]),
            ErrorPageReason::UnregisteredRedirectUri
        );
        assert_eq!(
            page(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb?x=1")
            ]),
            ErrorPageReason::UnregisteredRedirectUri
        );
        assert_eq!(
            page(&[("client_id", "portal")]),
            ErrorPageReason::MissingRedirectUri
        );
    }

    #[test]
    fn other_problems_go_back_to_the_client() {
        let realm = realm();
        let error =
            |pairs: &[(&str, &str)]| match parse_authorization_request(&realm, &params(pairs)) {
                Err(AuthorizeRejection::Redirect(redirect)) => (redirect.error, redirect.state),
                other => panic!("{other:?}"),
            };
        assert_eq!(
            error(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb"),
                ("response_type", "token"),
                ("state", "x")
            ]),
            ("unsupported_response_type", Some("x".into()))
        );
        assert_eq!(
            error(&[
                ("client_id", "app"),
                ("redirect_uri", "https://app.example/cb"),
                ("response_type", "code")
            ])
            .0,
            "invalid_request",
            "public clients need PKCE"
        );
        assert_eq!(
            error(&[
                ("client_id", "app"),
                ("redirect_uri", "https://app.example/cb"),
                ("response_type", "code"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain")
            ])
            .0,
            "invalid_request"
        );
        assert_eq!(
            error(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb"),
                ("response_type", "code"),
                ("prompt", "none login")
            ])
            .0,
            "invalid_request"
        );
        assert_eq!(
            error(&[
                ("client_id", "portal"),
                ("redirect_uri", "https://portal.example/cb"),
                ("response_type", "code"),
                ("max_age", "-1")
            ])
            .0,
            "invalid_request"
        );
    }

    #[test]
    fn pkce_verifier_check() {
        // The example of RFC 7636 Appendix B.
        assert!(pkce_matches(
            CHALLENGE,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_matches(
            CHALLENGE,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"
        ));
        assert!(!pkce_matches(CHALLENGE, "short"));
    }
}
