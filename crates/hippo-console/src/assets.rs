//! The console's two static files, embedded in the binary and served under names that carry
//! their content hash (`/console/assets/console-<hash>.css`), so a new build never meets a
//! stale copy and nothing is ever loaded from another origin.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

fn hashed(stem: &str, ext: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!("{stem}-{}.{ext}", &hex::encode(digest)[..16])
}

static CSS_NAME: LazyLock<String> = LazyLock::new(|| hashed("console", "css", CSS));
static JS_NAME: LazyLock<String> = LazyLock::new(|| hashed("console", "js", JS));

pub fn css_path() -> String {
    format!("/console/assets/{}", *CSS_NAME)
}

pub fn js_path() -> String {
    format!("/console/assets/{}", *JS_NAME)
}

/// `GET /console/assets/{name}`: only the current names are served.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (content, kind) = if name == *CSS_NAME {
        (CSS, "text/css; charset=utf-8")
    } else if name == *JS_NAME {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return crate::html::error_page(StatusCode::NOT_FOUND, None, "No such console file.");
    };
    let mut resp = content.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert!(css_path().starts_with("/console/assets/console-"));
        assert!(css_path().ends_with(".css"));
        assert_ne!(hashed("a", "css", "x"), hashed("a", "css", "y"));
    }

    #[test]
    fn the_script_uses_no_eval_and_loads_nothing_from_elsewhere() {
        for banned in ["eval(", "new Function", "http://", "https://", "innerHTML"] {
            assert!(!JS.contains(banned), "{banned}");
        }
        for banned in ["http://", "https://", "@import", "url("] {
            assert!(!CSS.contains(banned), "{banned}");
        }
    }
}
