//! The WebAuthn relying party of a realm (SPEC §4.1): its RP ID and allowed origins from
//! `[passkey]`, or else from the server's public URL.

use monban_core::config::RealmConfig;
use url::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// A `[passkey]` setting that cannot work, by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingPartyProblem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> RelyingPartyProblem {
    RelyingPartyProblem {
        field,
        message: message.into(),
    }
}

/// The realm's relying party. Cheap to build; built per ceremony so that it always follows
/// the realm file.
pub fn relying_party(
    realm: &RealmConfig,
    public_url: &str,
) -> Result<Webauthn, RelyingPartyProblem> {
    let public =
        Url::parse(public_url).map_err(|_| problem("origins", "public_url is not a URL"))?;
    let origins: Vec<Url> = if realm.passkey.origins.is_empty() {
        vec![Url::parse(&public.origin().ascii_serialization())
            .map_err(|_| problem("origins", "public_url has no origin"))?]
    } else {
        let mut parsed = Vec::new();
        for origin in &realm.passkey.origins {
            parsed.push(
                Url::parse(origin)
                    .map_err(|_| problem("origins", format!("\"{origin}\" is not an origin")))?,
            );
        }
        parsed
    };
    let rp_id = match &realm.passkey.rp_id {
        Some(rp_id) => rp_id.clone(),
        None => public.domain().map(str::to_string).ok_or_else(|| {
            problem(
                "rp_id",
                format!(
                    "passkeys need a domain name, and public_url {public_url} has none: set rp_id and origins, or use a public_url like http://localhost:8080"
                ),
            )
        })?,
    };
    for origin in &origins {
        let inside = origin
            .domain()
            .is_some_and(|domain| domain == rp_id || domain.ends_with(&format!(".{rp_id}")));
        if !inside {
            return Err(problem(
                "origins",
                format!("{origin} is not on the RP ID {rp_id} (or a subdomain of it)"),
            ));
        }
    }
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|e| problem("rp_id", e.to_string()))?
        .rp_name(&realm.display_title);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|e| problem("rp_id", e.to_string()))
}
