//! The `monban` server: actix-web wiring (routes, cookies, CSRF, security headers), the CLI,
//! and start-up. Handlers parse a request, call one domain function, and render or redirect.

pub mod app;
mod backchannel;
pub mod cli;
mod flow_check;
mod http;
mod routes;
pub mod settings;

pub use app::{start, RunningServer};
pub use settings::Settings;
