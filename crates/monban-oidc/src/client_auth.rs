//! Who is calling the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, or a public client naming itself.

use monban_core::config::{ClientAuthentication, ClientConfig, RealmConfig};
use subtle::ConstantTimeEq;

/// Why the client could not be authenticated. Everything except a malformed request is
/// `invalid_client` with status 401 (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthError {
    /// Two methods at once, or an unreadable Authorization header.
    Malformed(&'static str),
    Failed,
}

/// Credentials as they arrived.
pub struct PresentedCredentials<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    pub form_client_id: Option<&'a str>,
    pub form_client_secret: Option<&'a str>,
}

pub fn authenticate_client<'r>(
    realm: &'r RealmConfig,
    presented: &PresentedCredentials<'_>,
) -> Result<&'r ClientConfig, ClientAuthError> {
    let basic = match presented.authorization {
        Some(header) if header.len() > 6 && header[..6].eq_ignore_ascii_case("basic ") => Some(
            decode_basic(&header[6..])
                .ok_or(ClientAuthError::Malformed("unreadable Basic credentials"))?,
        ),
        _ => None,
    };
    let (client_id, secret) = match (basic, presented.form_client_secret) {
        (Some(_), Some(_)) => {
            return Err(ClientAuthError::Malformed(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if presented
                .form_client_id
                .is_some_and(|form_id| form_id != id)
            {
                return Err(ClientAuthError::Malformed(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => match presented.form_client_id {
            Some(id) => (id.to_string(), secret.map(str::to_string)),
            None => return Err(ClientAuthError::Failed),
        },
    };
    let client = realm.client(&client_id).ok_or(ClientAuthError::Failed)?;
    match (client.authentication(), secret) {
        (ClientAuthentication::Public, None) => Ok(client),
        (ClientAuthentication::Secret(expected), Some(given)) => {
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                Ok(client)
            } else {
                Err(ClientAuthError::Failed)
            }
        }
        _ => Err(ClientAuthError::Failed),
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn realm() -> RealmConfig {
        let text = r#"
name = "demo"
display_title = "デモ"
[[clients]]
client_id = "portal"
secret = "s3cret:with%chars"
redirect_uris = ["https://portal.example/cb"]
[[clients]]
client_id = "app"
public = true
redirect_uris = ["https://app.example/cb"]
"#;
        RealmConfig::parse("demo.toml", text, "demo", &|_| None).unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(id),
                enc(secret)
            ))
        )
    }

    #[test]
    fn basic_post_and_public() {
        let realm = realm();
        let header = basic("portal", "s3cret:with%chars");
        let ok = PresentedCredentials {
            authorization: Some(&header),
            form_client_id: None,
            form_client_secret: None,
        };
        assert_eq!(
            authenticate_client(&realm, &ok).unwrap().client_id,
            "portal"
        );
        let post = PresentedCredentials {
            authorization: None,
            form_client_id: Some("portal"),
            form_client_secret: Some("s3cret:with%chars"),
        };
        assert_eq!(
            authenticate_client(&realm, &post).unwrap().client_id,
            "portal"
        );
        let public = PresentedCredentials {
            authorization: None,
            form_client_id: Some("app"),
            form_client_secret: None,
        };
        assert_eq!(
            authenticate_client(&realm, &public).unwrap().client_id,
            "app"
        );
    }

    #[test]
    fn wrong_or_missing_secrets_fail() {
        let realm = realm();
        let header = basic("portal", "wrong");
        let wrong = PresentedCredentials {
            authorization: Some(&header),
            form_client_id: None,
            form_client_secret: None,
        };
        assert_eq!(
            authenticate_client(&realm, &wrong).unwrap_err(),
            ClientAuthError::Failed
        );
        let missing = PresentedCredentials {
            authorization: None,
            form_client_id: Some("portal"),
            form_client_secret: None,
        };
        assert_eq!(
            authenticate_client(&realm, &missing).unwrap_err(),
            ClientAuthError::Failed
        );
        let both = PresentedCredentials {
            authorization: Some(&header),
            form_client_id: None,
            form_client_secret: Some("x"),
        };
        assert!(matches!(
            authenticate_client(&realm, &both),
            Err(ClientAuthError::Malformed(_))
        ));
    }
}
