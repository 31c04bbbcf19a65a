//! Turns the error responses hyper's HTTP/1.1 parser writes on its own (400 for a malformed
//! request head, 414 for a target over its fixed 64 KiB limit, 431 for a head over its read
//! buffer) into RFC 9457 problem responses.
//!
//! hyper answers these before any service runs and offers no hook, so this wraps the
//! connection's byte stream: a write that is exactly one bare error head (a 4xx/5xx status and
//! no Content-Type) can only be hyper's own, because every error the application sends carries
//! `Content-Type: application/problem+json` (middleware.rs enforces it). Ordinary oversized
//! requests never get this far: hyper's limits sit above Hippo's (limits.rs), so they are
//! refused by the application. HTTP/2 frames never start with `HTTP/1.`, so an HTTP/2
//! connection passes through untouched. hyper writes a head in one piece because the HTTP/1.1
//! builder is set to `writev(false)` (one flat write buffer), and this wrapper reports that it
//! cannot write vectored.

use crate::limits::ConnectionLimits;
use crate::problem::{
    HEADERS_TOO_LARGE_SLUG, HEADERS_TOO_LARGE_TITLE, URI_TOO_LONG_SLUG, URI_TOO_LONG_TITLE,
};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's byte stream, with hyper's bare HTTP/1.1 error responses rewritten.
pub struct ProblemRewriter<T> {
    inner: T,
    hsts: bool,
    max_uri_bytes: usize,
    max_header_bytes: usize,
    /// A replacement being written, and how many of hyper's bytes it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> ProblemRewriter<T> {
    pub fn new(inner: T, limits: &ConnectionLimits, hsts: bool) -> Self {
        Self {
            inner,
            hsts,
            max_uri_bytes: limits.max_uri_bytes,
            max_header_bytes: limits.max_header_bytes,
            pending: None,
        }
    }

    fn replacement(&self, status: u16) -> Vec<u8> {
        let (slug, title, detail) = match status {
            414 => (
                URI_TOO_LONG_SLUG.to_owned(),
                URI_TOO_LONG_TITLE,
                format!(
                    "the request target (path and query) exceeds the limit of {} bytes",
                    self.max_uri_bytes
                ),
            ),
            431 => (
                HEADERS_TOO_LARGE_SLUG.to_owned(),
                HEADERS_TOO_LARGE_TITLE,
                format!(
                    "the request head exceeds the limits of {} bytes for the target and {} bytes for the header section",
                    self.max_uri_bytes, self.max_header_bytes
                ),
            ),
            400 => (
                "malformed-request".to_owned(),
                "Malformed request",
                "the request line or a header field is not valid HTTP/1.1".to_owned(),
            ),
            other => (
                format!("http-{other}"),
                "Error",
                "the request could not be read".to_owned(),
            ),
        };
        problem_response(status, &slug, title, detail, self.hsts)
    }
}

/// The status of `buf` if it is exactly one HTTP/1.x response head with an error status and no
/// Content-Type: the shape of hyper's own refusals, never of the application's responses.
///
/// Hand-written rather than a full parser: it only recognises hyper's own output.
fn bare_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(code[0], b'4' | b'5') {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let has_content_type = buf[..end]
        .split(|b| *b == b'\n')
        .any(|line| line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:"));
    if has_content_type {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

fn problem_response(status: u16, slug: &str, title: &str, detail: String, hsts: bool) -> Vec<u8> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let problem = hippo_proto::Problem {
        problem_type: format!("urn:hippo:problem:{slug}"),
        title: title.to_owned(),
        status,
        detail: Some(detail),
        instance: Some(format!("urn:hippo:request:{request_id}")),
        request_id: Some(request_id.clone()),
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).expect("problem serialises");
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\
         x-request-id: {request_id}\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n\
         x-frame-options: DENY\r\n",
        hippo_proto::PROBLEM_JSON,
        body.len()
    );
    if hsts {
        head.push_str("strict-transport-security: max-age=63072000; includeSubDomains\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend(body);
    out
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemRewriter<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemRewriter<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match bare_error_status(buf) {
                Some(status) => {
                    tracing::debug!(status, "HTTP/1.1 parse error answered as a problem");
                    let replacement = self.replacement(status);
                    self.pending = Some((replacement, 0, buf.len()));
                }
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        let this = &mut *self;
        let (bytes, written, stands_for) = this.pending.as_mut().expect("set above");
        while *written < bytes.len() {
            match ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => *written += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let consumed = *stands_for;
        this.pending = None;
        Poll::Ready(Ok(consumed))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn recognises_only_bare_error_heads() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 05:00:00 GMT\r\n\r\n";
        assert_eq!(bare_error_status(hyper_431), Some(431));
        assert_eq!(
            bare_error_status(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n"),
            Some(414)
        );
        // The application's errors carry a content type; successes are never touched.
        assert_eq!(
            bare_error_status(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\ncontent-length: 2\r\n\r\n"),
            None
        );
        assert_eq!(bare_error_status(b"HTTP/1.1 204 No Content\r\n\r\n"), None);
        // A head followed by body bytes, or body bytes that merely look like a head, are not it.
        assert_eq!(
            bare_error_status(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nx"),
            None
        );
        assert_eq!(bare_error_status(b"{\"HTTP/1.1 400\": 1}"), None);
        assert_eq!(bare_error_status(b"HTTP/1.1 4x0 Bad\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn rewrites_hyper_refusals_into_problems_and_passes_the_rest() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut w = ProblemRewriter::new(server, &ConnectionLimits::default(), true);
        let hyper_414 = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(w.write(hyper_414).await.unwrap(), hyper_414.len());
        w.write_all(b"untouched").await.unwrap();
        w.shutdown().await.unwrap();
        drop(w);
        let mut out = String::new();
        let mut client = client;
        client.read_to_string(&mut out).await.unwrap();
        let (head, rest) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("strict-transport-security"), "{head}");
        let body = rest.strip_suffix("untouched").unwrap();
        let p: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(p["type"], "urn:hippo:problem:uri-too-long");
        assert_eq!(p["status"], 414);
        assert!(p["title"].is_string() && p["detail"].as_str().unwrap().contains("8192"));
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.len());
    }
}
