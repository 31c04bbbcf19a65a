//! Connection limits and timeouts (`[connections]` in hippo.toml): their defaults, their
//! validation, and the request-size checks every request passes before it is routed.
//!
//! Why these defaults:
//! - `max_connections = 10000`: far above what one instance serves usefully, far below a
//!   production open-file limit (systemd and container runtimes give 65536 or more), so the cap
//!   refuses a flood before the file limit is reached.
//! - `max_connections_per_ip = 256`: a browser opens at most 6 HTTP/1.1 connections per host and
//!   an API client's pool a few dozen, so 256 leaves room for a clinic behind one NAT address
//!   while stopping a single host from taking every slot. Behind a load balancer all connections
//!   come from its addresses: raise this to `max_connections` there.
//! - `handshake_timeout_secs = 10`: a TLS handshake and one request head take a few round trips;
//!   10 s is generous even for a slow mobile link, and bounds what a silent client can hold.
//! - `idle_timeout_secs = 75`: longer than the 60 s idle timeout of common load balancers (the
//!   AWS ALB default, as in deploy/terraform/alb.tf), so the balancer, not the server, closes an
//!   idle pooled connection; the reverse races a new request and shows as 502s.
//! - HTTP/2 keep-alive ping every 20 s, dead after 10 s without an answer: finds vanished peers
//!   (half-open TCP) well before the idle timeout.
//! - `max_uri_bytes = 8192`: RFC 9110 asks for at least 8000 octets; Hippo's URIs (ids, cursors,
//!   a few query parameters) are far shorter.
//! - `max_header_bytes = 32768`, `max_headers = 100`: room for a bearer token, tracing and proxy
//!   headers; 100 is hyper's own default count.

use crate::config::ConfigError;
use http::Request;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Most connections open at once; further ones are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Most connections open at once from one source IP address.
    pub max_connections_per_ip: usize,
    /// Seconds a new connection has to finish the TLS handshake and send its first request head.
    pub handshake_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight (HTTP/1.1 and HTTP/2).
    pub idle_timeout_secs: u64,
    /// Seconds between HTTP/2 keep-alive pings.
    pub http2_keepalive_interval_secs: u64,
    /// Seconds to wait for a ping's acknowledgement before closing the HTTP/2 connection.
    pub http2_keepalive_timeout_secs: u64,
    /// Longest accepted request target (path and query), in bytes; longer: 414.
    pub max_uri_bytes: usize,
    /// Largest accepted request header section, in bytes (each field counted as name + value +
    /// 32, as HTTP/2 counts it); larger: 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more: 431.
    pub max_headers: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_ip: 256,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 75,
            http2_keepalive_interval_secs: 20,
            http2_keepalive_timeout_secs: 10,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
        }
    }
}

/// hyper answers oversized requests itself, before any service runs, and with an empty body.
/// Its own limits are therefore set this many times above ours, so that ordinary oversized
/// requests reach [`check_request`] and get a problem+json answer.
const HYPER_LIMIT_FACTOR: usize = 2;

/// hyper refuses a read buffer below 8 KiB.
const HYPER_MIN_BUF: usize = 8 * 1024;

impl ConnectionLimits {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// hyper's HTTP/1.1 read buffer: room for a request head twice our limits.
    pub fn hyper_h1_max_buf(&self) -> usize {
        ((self.max_uri_bytes + self.max_header_bytes) * HYPER_LIMIT_FACTOR).max(HYPER_MIN_BUF)
    }

    /// hyper's HTTP/1.1 header count limit.
    pub fn hyper_h1_max_headers(&self) -> usize {
        self.max_headers * HYPER_LIMIT_FACTOR
    }

    /// The HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE advertised (and enforced by the h2 crate).
    pub fn hyper_h2_max_header_list(&self) -> u32 {
        let bytes = (self.max_uri_bytes + self.max_header_bytes) * HYPER_LIMIT_FACTOR;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// Checks every key; errors name the key (`connections.<key>`) and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("connections.{k}");
        let range = |k: &str, v: u64, lo: u64, hi: u64, example: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::new(
                    &key(k),
                    format!("{v} is outside {lo}..={hi}"),
                    format!("use a value in that range, e.g. {example}"),
                ))
            }
        };
        range(
            "max_connections",
            self.max_connections as u64,
            1,
            1_000_000,
            "10000",
        )?;
        range(
            "max_connections_per_ip",
            self.max_connections_per_ip as u64,
            1,
            1_000_000,
            "256",
        )?;
        if self.max_connections_per_ip > self.max_connections {
            return Err(ConfigError::new(
                &key("max_connections_per_ip"),
                format!(
                    "{} is above connections.max_connections ({})",
                    self.max_connections_per_ip, self.max_connections
                ),
                "set it at most to connections.max_connections",
            ));
        }
        range(
            "handshake_timeout_secs",
            self.handshake_timeout_secs,
            1,
            300,
            "10",
        )?;
        range("idle_timeout_secs", self.idle_timeout_secs, 1, 3600, "75")?;
        range(
            "http2_keepalive_interval_secs",
            self.http2_keepalive_interval_secs,
            1,
            3600,
            "20",
        )?;
        range(
            "http2_keepalive_timeout_secs",
            self.http2_keepalive_timeout_secs,
            1,
            300,
            "10",
        )?;
        range(
            "max_uri_bytes",
            self.max_uri_bytes as u64,
            256,
            65_536,
            "8192",
        )?;
        range(
            "max_header_bytes",
            self.max_header_bytes as u64,
            1024,
            1_048_576,
            "32768",
        )?;
        range("max_headers", self.max_headers as u64, 8, 1000, "100")?;
        Ok(())
    }
}

/// Why a request was refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLarge {
    Uri { limit: usize },
    HeaderBytes { limit: usize },
    HeaderCount { limit: usize },
}

/// Checks a request's target and header section against the limits.
pub fn check_request<B>(req: &Request<B>, limits: &ConnectionLimits) -> Result<(), TooLarge> {
    let target_len = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    if target_len > limits.max_uri_bytes {
        return Err(TooLarge::Uri {
            limit: limits.max_uri_bytes,
        });
    }
    if req.headers().len() > limits.max_headers {
        return Err(TooLarge::HeaderCount {
            limit: limits.max_headers,
        });
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Err(TooLarge::HeaderBytes {
            limit: limits.max_header_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ConnectionLimits::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key_and_its_environment_variable() {
        let bad = |l: ConnectionLimits| l.validate().unwrap_err();
        let e = bad(ConnectionLimits {
            max_connections: 0,
            ..Default::default()
        });
        assert_eq!(e.key, "connections.max_connections");
        assert_eq!(e.env, "HIPPO_CONNECTIONS__MAX_CONNECTIONS");
        let e = bad(ConnectionLimits {
            max_connections: 10,
            max_connections_per_ip: 11,
            ..Default::default()
        });
        assert_eq!(e.key, "connections.max_connections_per_ip");
        assert!(e.to_string().contains("Fix:"), "{e}");
        for (l, k) in [
            (
                ConnectionLimits {
                    handshake_timeout_secs: 0,
                    ..Default::default()
                },
                "connections.handshake_timeout_secs",
            ),
            (
                ConnectionLimits {
                    idle_timeout_secs: 0,
                    ..Default::default()
                },
                "connections.idle_timeout_secs",
            ),
            (
                ConnectionLimits {
                    max_uri_bytes: 10,
                    ..Default::default()
                },
                "connections.max_uri_bytes",
            ),
            (
                ConnectionLimits {
                    max_headers: 0,
                    ..Default::default()
                },
                "connections.max_headers",
            ),
        ] {
            assert_eq!(bad(l).key, k);
        }
    }

    #[test]
    fn hyper_limits_sit_above_ours() {
        let l = ConnectionLimits::default();
        assert!(l.hyper_h1_max_buf() > l.max_uri_bytes + l.max_header_bytes);
        assert!(l.hyper_h1_max_headers() > l.max_headers);
        assert!(l.hyper_h2_max_header_list() as usize > l.max_uri_bytes + l.max_header_bytes);
        let small = ConnectionLimits {
            max_uri_bytes: 256,
            max_header_bytes: 1024,
            ..Default::default()
        };
        assert_eq!(small.hyper_h1_max_buf(), HYPER_MIN_BUF);
    }

    #[test]
    fn oversized_targets_and_headers_are_refused() {
        let l = ConnectionLimits {
            max_uri_bytes: 300,
            max_header_bytes: 1024,
            max_headers: 10,
            ..Default::default()
        };
        let ok = Request::get("/v1/records?limit=5")
            .header("authorization", "Bearer x")
            .body(())
            .unwrap();
        assert_eq!(check_request(&ok, &l), Ok(()));
        let long = Request::get(format!("/v1/records?q={}", "a".repeat(300)))
            .body(())
            .unwrap();
        assert_eq!(check_request(&long, &l), Err(TooLarge::Uri { limit: 300 }));
        let big = Request::get("/")
            .header("x-big", "b".repeat(1000))
            .body(())
            .unwrap();
        assert_eq!(
            check_request(&big, &l),
            Err(TooLarge::HeaderBytes { limit: 1024 })
        );
        let mut many = Request::get("/");
        for i in 0..11 {
            many = many.header(format!("x-h{i}"), "1");
        }
        assert_eq!(
            check_request(&many.body(()).unwrap(), &l),
            Err(TooLarge::HeaderCount { limit: 10 })
        );
    }
}
