//! The relying-party side of OpenID Connect, on top of the `openidconnect` crate: lazy
//! discovery, the authorization request, the code exchange with ID-token verification and
//! userinfo, and the RP-initiated logout URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use base64::Engine as _;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGenderClaim, CoreGrantType, CoreIdToken, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::url::Url;
use openidconnect::{
    reqwest, AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndSessionUrl, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, LogoutProviderMetadata, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadata, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::session::{PendingLogin, SignedInUser};

/// Metadata is re-fetched after this long, so rotated signing keys are picked up.
const METADATA_TTL: Duration = Duration::from_secs(5 * 60);

/// RFC 9207 flag, on top of what `openidconnect` already parses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssParameterMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for IssParameterMetadata {}

type PortalProviderMetadata = ProviderMetadata<
    LogoutProviderMetadata<IssParameterMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Any claims beyond the standard ones (`sid`, `acr`, custom claims), kept for display.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

/// What discovery told us about the issuer.
struct Provider {
    client: DiscoveredClient,
    issuer: String,
    end_session_endpoint: Option<EndSessionUrl>,
    iss_parameter_supported: bool,
    fetched: Instant,
}

/// A failure shown to the member as a Japanese error page.
#[derive(Debug)]
pub struct PortalError {
    pub status: StatusCode,
    /// What happened, for the member.
    pub message: String,
    /// Technical detail for whoever runs the demo; never contains tokens or secrets.
    pub detail: Option<String>,
}

impl PortalError {
    pub fn new(status: StatusCode, message: impl Into<String>, detail: Option<String>) -> Self {
        PortalError {
            status,
            message: message.into(),
            detail,
        }
    }

    fn unreachable(err: &dyn std::error::Error) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "認証サーバ (Monban) に接続できませんでした。しばらくしてからもう一度お試しください。",
            Some(error_chain(err)),
        )
    }

    pub fn login_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ログインの有効期限が切れたか、このログイン要求はすでに使われています。もう一度ログインしてください。",
            None,
        )
    }

    /// An `error` returned to the redirect URI (RFC 6749 §4.1.2.1).
    pub fn from_authorization_response(error: &str, description: Option<&str>) -> Self {
        let message = match error {
            "access_denied" => "ログインがキャンセルされたか、アクセスが拒否されました。",
            "login_required"
            | "interaction_required"
            | "consent_required"
            | "account_selection_required" => "ログインが必要です。もう一度ログインしてください。",
            "temporarily_unavailable" => {
                "認証サーバが一時的に利用できません。しばらくしてからもう一度お試しください。"
            }
            "server_error" => "認証サーバでエラーが発生しました。",
            _ => "ログインできませんでした。",
        };
        let detail = match description {
            Some(d) if !d.is_empty() => format!("error={error}: {d}"),
            _ => format!("error={error}"),
        };
        Self::new(StatusCode::BAD_REQUEST, message, Some(detail))
    }
}

/// Joins an error and its sources into one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Optional parameters `/login` passes on to the authorization request (handy for testing
/// `prompt=login` or the English locale).
#[derive(Debug, Default, Deserialize)]
pub struct LoginOptions {
    pub prompt: Option<String>,
    pub ui_locales: Option<String>,
    pub login_hint: Option<String>,
}

/// The portal as an OpenID Connect client of one issuer.
pub struct RelyingParty {
    http: reqwest::Client,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUrl,
    post_logout_redirect_uri: PostLogoutRedirectUrl,
    fallback_end_session_endpoint: EndSessionUrl,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
}

impl RelyingParty {
    /// Checks the configured URLs; contacts nobody (Monban may not be up yet).
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let http = reqwest::ClientBuilder::new()
            // openidconnect requires this: following redirects would open the client to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .context("building the HTTP client")?;
        Ok(RelyingParty {
            http,
            issuer: IssuerUrl::new(config.issuer.clone()).context("invalid --issuer")?,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: ClientSecret::new(config.client_secret.clone()),
            redirect_uri: RedirectUrl::new(config.redirect_uri())
                .context("invalid --public-url")?,
            post_logout_redirect_uri: PostLogoutRedirectUrl::new(config.post_logout_redirect_uri())
                .context("invalid --public-url")?,
            fallback_end_session_endpoint: EndSessionUrl::new(
                config.fallback_end_session_endpoint(),
            )
            .context("invalid --issuer")?,
            provider: tokio::sync::Mutex::new(None),
        })
    }

    /// The discovered provider, fetched on first use and refreshed after [`METADATA_TTL`].
    /// The lock is held across discovery so concurrent first logins fetch once.
    async fn provider(&self, force_refresh: bool) -> Result<Arc<Provider>, PortalError> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached.as_ref() {
            if !force_refresh && provider.fetched.elapsed() < METADATA_TTL {
                return Ok(provider.clone());
            }
        }
        let metadata = PortalProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                eprintln!(
                    "discovery of {} failed: {}",
                    self.issuer.as_str(),
                    error_chain(&e)
                );
                PortalError::unreachable(&e)
            })?;
        let extra = metadata.additional_metadata();
        let end_session_endpoint = extra.end_session_endpoint.clone();
        let iss_parameter_supported = extra
            .additional_metadata
            .authorization_response_iss_parameter_supported
            .unwrap_or(false);
        let issuer = metadata.issuer().as_str().to_owned();
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect_uri.clone());
        let provider = Arc::new(Provider {
            client,
            issuer,
            end_session_endpoint,
            iss_parameter_supported,
            fetched: Instant::now(),
        });
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Builds the authorization request (code flow, PKCE S256, state, nonce).
    pub async fn begin_login(
        &self,
        options: &LoginOptions,
    ) -> Result<(Url, String, PendingLogin), PortalError> {
        let provider = self.provider(false).await?;
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(pkce_challenge);
        for (name, value) in [
            ("prompt", &options.prompt),
            ("ui_locales", &options.ui_locales),
            ("login_hint", &options.login_hint),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                request = request.add_extra_param(name, value);
            }
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            pkce_verifier: pkce_verifier.into_secret(),
            nonce,
            started: Instant::now(),
        };
        Ok((url, state.into_secret(), pending))
    }

    /// RFC 9207: an `iss` in the authorization response must be the issuer we sent the member
    /// to; if the issuer announces support, a missing `iss` is rejected too.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), PortalError> {
        let provider = self.provider(false).await?;
        check_issuer(&provider.issuer, provider.iss_parameter_supported, iss)
    }

    /// Exchanges the code, verifies the ID token and fetches userinfo.
    pub async fn finish_login(
        &self,
        code: String,
        pending: PendingLogin,
    ) -> Result<SignedInUser, PortalError> {
        let mut provider = self.provider(false).await?;
        let token_response = provider
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| {
                PortalError::new(
                    StatusCode::BAD_GATEWAY,
                    "認証サーバの設定にトークンエンドポイントがありません。",
                    Some(error_chain(&e)),
                )
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                eprintln!("token request failed: {}", error_chain(&e));
                PortalError::new(
                    StatusCode::BAD_GATEWAY,
                    "トークンの取得に失敗しました。もう一度ログインしてください。",
                    Some(error_chain(&e)),
                )
            })?;

        let id_token = token_response.id_token().ok_or_else(|| {
            PortalError::new(
                StatusCode::BAD_GATEWAY,
                "認証サーバから ID トークンが返されませんでした。",
                None,
            )
        })?;

        let verify = |provider: &Provider| -> Result<String, PortalError> {
            let verifier = provider.client.id_token_verifier();
            let claims = id_token
                .claims(&verifier, &pending.nonce)
                .map_err(id_token_error)?;
            if let Some(expected) = claims.access_token_hash() {
                let signing_alg = id_token.signing_alg().map_err(|e| invalid_id_token(&e))?;
                let signing_key = id_token
                    .signing_key(&verifier)
                    .map_err(|e| invalid_id_token(&e))?;
                let actual = AccessTokenHash::from_token(
                    token_response.access_token(),
                    signing_alg,
                    signing_key,
                )
                .map_err(|e| invalid_id_token(&e))?;
                if actual != *expected {
                    return Err(PortalError::new(
                        StatusCode::BAD_GATEWAY,
                        "ID トークンの検証に失敗しました。",
                        Some("at_hash does not match the access token".into()),
                    ));
                }
            }
            Ok(claims.subject().as_str().to_owned())
        };
        let subject = match verify(&provider) {
            Ok(subject) => subject,
            // The issuer may have rotated its keys since discovery: fetch the JWKS again once.
            Err(_) if is_unknown_key(id_token, &provider) => {
                provider = self.provider(true).await?;
                verify(&provider)?
            }
            Err(e) => return Err(e),
        };

        let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = provider
            .client
            .user_info(
                token_response.access_token().clone(),
                Some(openidconnect::SubjectIdentifier::new(subject)),
            )
            .map_err(|e| {
                PortalError::new(
                    StatusCode::BAD_GATEWAY,
                    "認証サーバの設定に userinfo エンドポイントがありません。",
                    Some(error_chain(&e)),
                )
            })?
            .request_async(&self.http)
            .await
            .map_err(|e| {
                eprintln!("userinfo request failed: {}", error_chain(&e));
                PortalError::new(
                    StatusCode::BAD_GATEWAY,
                    "ユーザー情報 (userinfo) の取得に失敗しました。",
                    Some(error_chain(&e)),
                )
            })?;
        let userinfo = serde_json::to_value(&userinfo).unwrap_or(Value::Null);

        let id_token_claims = jwt_payload(&id_token.to_string()).ok_or_else(|| {
            PortalError::new(
                StatusCode::BAD_GATEWAY,
                "ID トークンの内容を読み取れませんでした。",
                None,
            )
        })?;
        let display_name = display_name(&id_token_claims, &userinfo);
        Ok(SignedInUser {
            display_name,
            id_token_claims,
            userinfo,
            id_token: id_token.clone(),
        })
    }

    /// Where to send the browser after the local sign-out: the issuer's
    /// `end_session_endpoint`, or the Keycloak-style path if discovery lacks one (or Monban
    /// cannot be reached right now).
    pub async fn logout_url(&self, id_token: Option<&CoreIdToken>) -> Url {
        let endpoint = match self.provider(false).await {
            Ok(provider) => provider.end_session_endpoint.clone(),
            Err(_) => None,
        };
        build_logout_url(
            endpoint.unwrap_or_else(|| self.fallback_end_session_endpoint.clone()),
            id_token,
            &self.client_id,
            &self.post_logout_redirect_uri,
        )
    }
}

fn invalid_id_token(err: &dyn std::error::Error) -> PortalError {
    PortalError::new(
        StatusCode::BAD_GATEWAY,
        "ID トークンの検証に失敗しました。",
        Some(error_chain(err)),
    )
}

fn id_token_error(err: ClaimsVerificationError) -> PortalError {
    eprintln!("ID token rejected: {}", error_chain(&err));
    invalid_id_token(&err)
}

/// True when the token names a key the cached JWKS does not have.
fn is_unknown_key(id_token: &CoreIdToken, provider: &Provider) -> bool {
    id_token
        .signing_key(&provider.client.id_token_verifier())
        .is_err()
}

fn check_issuer(issuer: &str, required: bool, iss: Option<&str>) -> Result<(), PortalError> {
    match iss {
        Some(iss) if iss == issuer => Ok(()),
        None if !required => Ok(()),
        got => Err(PortalError::new(
            StatusCode::BAD_REQUEST,
            "認証サーバからの応答の発行者 (iss) が一致しません。もう一度ログインしてください。",
            Some(match got {
                Some(got) => format!("expected iss={issuer}, got iss={got}"),
                None => format!("the issuer {issuer} announces the iss parameter but sent none"),
            }),
        )),
    }
}

/// RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0, GET form).
pub fn build_logout_url(
    endpoint: EndSessionUrl,
    id_token: Option<&CoreIdToken>,
    client_id: &ClientId,
    post_logout_redirect_uri: &PostLogoutRedirectUrl,
) -> Url {
    let mut request = LogoutRequest::from(endpoint)
        .set_client_id(client_id.clone())
        .set_post_logout_redirect_uri(post_logout_redirect_uri.clone());
    if let Some(id_token) = id_token {
        request = request.set_id_token_hint(id_token);
    }
    request.http_get_url()
}

/// The claims of a compact JWS exactly as the issuer wrote them (the token must already be
/// verified; this only decodes).
fn jwt_payload(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `name`, else `preferred_username` (from the ID token, then userinfo), else `sub`.
fn display_name(id_token_claims: &Map<String, Value>, userinfo: &Value) -> String {
    let pick = |key: &str| {
        id_token_claims
            .get(key)
            .or_else(|| userinfo.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    pick("name")
        .or_else(|| pick("preferred_username"))
        .or_else(|| pick("sub"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    // {"alg":"RS256"} . {"iss":"http://localhost","aud":"portal","sub":"1","exp":1,"iat":1} . "sig"
    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0IiwiYXVkIjoicG9ydGFsIiwic3ViIjoiMSIsImV4cCI6MSwiaWF0IjoxfQ.c2ln";

    #[test]
    fn logout_url_carries_hint_client_and_return_address() {
        let url = build_logout_url(
            EndSessionUrl::new("http://localhost:8080/realms/demo/logout".into()).unwrap(),
            Some(&CoreIdToken::from_str(ID_TOKEN).unwrap()),
            &ClientId::new("portal".into()),
            &PostLogoutRedirectUrl::new("http://localhost:8081/".into()).unwrap(),
        );
        assert_eq!(url.path(), "/realms/demo/logout");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            query,
            vec![
                ("id_token_hint".into(), ID_TOKEN.into()),
                ("client_id".into(), "portal".into()),
                (
                    "post_logout_redirect_uri".into(),
                    "http://localhost:8081/".into()
                ),
            ]
        );
    }

    #[test]
    fn logout_url_without_id_token_still_names_the_client() {
        let url = build_logout_url(
            EndSessionUrl::new("https://id.example.jp/logout?x=1".into()).unwrap(),
            None,
            &ClientId::new("portal".into()),
            &PostLogoutRedirectUrl::new("https://portal.example.jp/".into()).unwrap(),
        );
        assert_eq!(
            url.as_str(),
            "https://id.example.jp/logout?x=1&client_id=portal&post_logout_redirect_uri=https%3A%2F%2Fportal.example.jp%2F"
        );
    }

    #[test]
    fn logout_falls_back_to_the_keycloak_path_without_discovery() {
        let config = <Config as clap::Parser>::parse_from([
            "portal",
            "--issuer",
            "http://127.0.0.1:9/realms/demo",
            "--public-url",
            "http://localhost:8081",
        ]);
        let rp = RelyingParty::new(&config).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = runtime.block_on(rp.logout_url(None));
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/realms/demo/protocol/openid-connect/logout?client_id=portal&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8081%2F"
        );
    }

    #[test]
    fn discovery_failure_is_a_readable_error() {
        let config = <Config as clap::Parser>::parse_from([
            "portal",
            "--issuer",
            "http://127.0.0.1:9/realms/demo",
        ]);
        let rp = RelyingParty::new(&config).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = runtime
            .block_on(rp.begin_login(&LoginOptions::default()))
            .err()
            .expect("nobody listens on port 9");
        assert_eq!(err.status, StatusCode::BAD_GATEWAY);
        assert!(err.message.contains("接続できませんでした"));
    }

    #[test]
    fn issuer_check_follows_rfc_9207() {
        let issuer = "http://localhost:8080/realms/demo";
        assert!(check_issuer(issuer, false, None).is_ok());
        assert!(check_issuer(issuer, true, Some(issuer)).is_ok());
        assert!(check_issuer(issuer, true, None).is_err());
        assert!(check_issuer(issuer, false, Some("http://evil.example/realms/demo")).is_err());
        assert!(check_issuer(issuer, false, Some("http://localhost:8080/realms/demo/")).is_err());
    }

    #[test]
    fn jwt_payload_is_decoded_as_issued() {
        let claims = jwt_payload(ID_TOKEN).unwrap();
        assert_eq!(claims.get("aud"), Some(&json!("portal")));
        assert_eq!(claims.get("exp"), Some(&json!(1)));
        assert!(jwt_payload("not-a-jwt").is_none());
    }

    #[test]
    fn display_name_prefers_name_then_preferred_username() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("abc"));
        claims.insert("preferred_username".into(), json!("taro"));
        assert_eq!(display_name(&claims, &Value::Null), "taro");
        assert_eq!(
            display_name(&claims, &json!({"name": "山田 太郎"})),
            "山田 太郎"
        );
        claims.insert("name".into(), json!("山田 花子"));
        assert_eq!(display_name(&claims, &Value::Null), "山田 花子");
    }

    #[test]
    fn authorization_errors_become_japanese_messages() {
        let err = PortalError::from_authorization_response("access_denied", Some("user said no"));
        assert!(err.message.contains("キャンセル"));
        assert_eq!(
            err.detail.as_deref(),
            Some("error=access_denied: user said no")
        );
    }
}
