//! HTTP plumbing shared by the handlers: parameters, cookies, CSRF, security headers.

pub mod cookies;
pub mod headers;
pub mod params;
