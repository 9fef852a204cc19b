//! Delivers back-channel logout tokens (OIDC Back-Channel Logout 1.0 §2.5). Deliveries are
//! rows in the database; any instance may send them. A failed delivery is retried with growing
//! waits and, after the last try, given up and recorded.

use crate::app::AppState;
use actix_web::web;
use monban_store::BackchannelDelivery;
use std::time::Duration;

/// Waits before the 2nd, 3rd, … attempt; after the last, the delivery is abandoned.
const RETRY_AFTER_SECONDS: [i64; 5] = [5, 30, 120, 600, 3600];
/// How long a claimed delivery is reserved for the instance that claimed it.
const LEASE_SECONDS: i64 = 60;
const POLL_EVERY: Duration = Duration::from_secs(1);

pub fn spawn(state: web::Data<AppState>) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "back-channel logout is disabled: no HTTP client");
            return;
        }
    };
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(POLL_EVERY);
        loop {
            interval.tick().await;
            let worker = state.clone();
            let claimed = web::block(move || {
                worker
                    .store
                    .claim_due_backchannel_deliveries(worker.clock.now(), LEASE_SECONDS, 20)
            })
            .await;
            let deliveries = match claimed {
                Ok(Ok(deliveries)) => deliveries,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "back-channel logout: cannot read deliveries");
                    continue;
                }
                Err(_) => continue,
            };
            for delivery in deliveries {
                deliver(&state, &http, delivery).await;
            }
        }
    });
}

async fn deliver(
    state: &web::Data<AppState>,
    http: &reqwest::Client,
    delivery: BackchannelDelivery,
) {
    let Some(realm) = state.realm(&delivery.realm) else {
        return;
    };
    let uri = realm
        .client(&delivery.client_id)
        .and_then(|c| c.backchannel_logout_uri.clone());
    let worker = state.clone();
    let realm_name = delivery.realm.clone();
    let for_token = delivery.clone();
    let token = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        worker.provider.logout_token(realm, &for_token)
    })
    .await;
    let outcome = match (uri, token) {
        (Some(uri), Ok(Ok(token))) => match http
            .post(&uri)
            .form(&[("logout_token", token)])
            .send()
            .await
        {
            // §2.8: the RP answers 200 (or 204) when it logged the session out.
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("{uri} answered {}", response.status())),
            Err(error) => Err(format!("{uri}: {error}")),
        },
        (None, _) => Err("the client no longer has a backchannel_logout_uri".to_string()),
        (_, Ok(Err(error))) => Err(format!("cannot sign the logout token: {error}")),
        (_, Err(error)) => Err(format!("worker failed: {error}")),
    };
    let now = state.clock.now();
    let attempt = delivery.attempts as usize;
    let recorded = match outcome {
        Ok(()) => Ok(now),
        Err(error) => {
            tracing::warn!(client = %delivery.client_id, attempt = attempt + 1, %error, "back-channel logout failed");
            Err((
                error,
                RETRY_AFTER_SECONDS.get(attempt).map(|wait| now + wait),
            ))
        }
    };
    let worker = state.clone();
    let id = delivery.id.clone();
    let saved =
        web::block(move || worker.store.record_backchannel_outcome(&id, recorded, now)).await;
    if !matches!(saved, Ok(Ok(()))) {
        tracing::error!(delivery = %delivery.id, "back-channel logout: cannot record the outcome");
    }
}
