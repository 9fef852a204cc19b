//! Rate limits per client network, counted in the database so that every instance behind a
//! load balancer counts toward the same limit. Fixed one-minute windows: simple to count in
//! one row, and a burst at a window's edge is at most twice the limit.

use crate::app::AppState;
use monban_store::StoreError;
use std::net::IpAddr;

const WINDOW_SECONDS: i64 = 60;

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Past the limit until the window is over, in `retry_after` seconds.
    Paused {
        retry_after: i64,
    },
}

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

/// Counts a form post to a login page from `client` against `[rate_limits]
/// login_posts_per_minute`. Blocking (the database): call off the executor.
pub fn count_login_post(state: &AppState, client: Option<IpAddr>) -> Result<Verdict, StoreError> {
    let limit = i64::from(state.rate_limits.login_posts_per_minute);
    let (Some(client), true) = (client, limit > 0) else {
        return Ok(Verdict::Allowed);
    };
    let bucket = format!("login-post:{}", network(client));
    let now = state.clock.now();
    let window_start = now - now.rem_euclid(WINDOW_SECONDS);
    let hits = state.store.hit_rate_limit(&bucket, window_start)?;
    if hits <= limit {
        return Ok(Verdict::Allowed);
    }
    if hits == limit + 1 {
        // Once per window, not once per refused request.
        tracing::warn!(%bucket, limit, "rate limit reached: login posts refused until the minute is over");
    }
    Ok(Verdict::Paused {
        retry_after: (window_start + WINDOW_SECONDS - now).max(1),
    })
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
