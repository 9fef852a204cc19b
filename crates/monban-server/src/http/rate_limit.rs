//! Rate limits per client network, counted in the database so that every instance behind a
//! load balancer counts toward the same limit. Fixed one-minute windows: simple to count in
//! one row, and a burst at a window's edge is at most twice the limit.

use super::client_address;
use crate::app::AppState;
use crate::routes::pages::{self, MessagePage};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use std::net::IpAddr;

const WINDOW_SECONDS: i64 = 60;

/// The network a limit counts for: an IPv4 address, or the /64 an IPv6 address is in (one
/// household or office gets a whole /64, so counting single addresses would not hold).
fn network(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64)
            .map(|net| net.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
    }
}

/// Counts a form post to a login page; past `[rate_limits] login_posts_per_minute` from the
/// client's network, the answer is a 429 page saying to wait (nothing of the post is looked at).
pub async fn login_post(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    client_id: Option<&str>,
) -> Result<(), HttpResponse> {
    let limit = state.rate_limits.login_posts_per_minute;
    let (true, Some(address)) = (limit > 0, client_address::of(req)) else {
        return Ok(());
    };
    let bucket = format!("login-post:{}", network(address));
    let now = state.clock.now();
    let window_start = now - now.rem_euclid(WINDOW_SECONDS);
    let worker = state.clone();
    let counted = {
        let bucket = bucket.clone();
        web::block(move || worker.store.hit_rate_limit(&bucket, window_start)).await
    };
    let hits = match counted {
        Ok(Ok(hits)) => hits,
        Ok(Err(error)) => {
            tracing::error!(%error, "counting a rate limit");
            return Err(pages::server_error());
        }
        Err(error) => {
            tracing::error!(%error, "counting a rate limit: the worker failed");
            return Err(pages::server_error());
        }
    };
    if hits <= i64::from(limit) {
        return Ok(());
    }
    if hits == i64::from(limit) + 1 {
        // Once per window, not once per refused request.
        tracing::warn!(%bucket, limit, "rate limit reached: login posts refused until the minute is over");
    }
    let mut refusal = pages::message(
        state,
        req,
        realm,
        StatusCode::TOO_MANY_REQUESTS,
        MessagePage {
            title_key: "rate_limited_title",
            message_key: "rate_limited",
            is_error: true,
            back_url: realm.back_url(client_id),
        },
    );
    let wait = window_start + WINDOW_SECONDS - now;
    refusal
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.max(1)));
    Err(refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        assert_eq!(network("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(
            network("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            network("2001:db8:1:2:bbbb::9".parse().unwrap()),
            network("2001:db8:1:2:aaaa::1".parse().unwrap())
        );
    }
}
