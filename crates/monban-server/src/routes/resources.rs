//! A theme's static files (css, scripts, images), and the health check.

use crate::app::AppState;
use actix_web::{web, HttpResponse};

pub async fn serve(path: web::Path<(String, String)>, state: web::Data<AppState>) -> HttpResponse {
    let (theme, file) = path.into_inner();
    // Only plain relative names: no `..`, no absolute paths, no odd characters.
    let safe = !file.is_empty()
        && file
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let Some(dir) = state.ui.resources_dir(&theme).filter(|_| safe) else {
        return HttpResponse::NotFound().finish();
    };
    let content_type = match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    match web::block(move || std::fs::read(dir.join(file))).await {
        Ok(Ok(bytes)) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header(("cache-control", "public, max-age=3600"))
            .insert_header(("x-content-type-options", "nosniff"))
            .body(bytes),
        _ => HttpResponse::NotFound().finish(),
    }
}

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}
