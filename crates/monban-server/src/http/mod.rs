//! HTTP plumbing shared by the handlers: parameters, cookies, CSRF, security headers, the
//! client's address and rate limits.

pub mod client_address;
pub mod cookies;
pub mod headers;
pub mod params;
pub mod rate_limit;
