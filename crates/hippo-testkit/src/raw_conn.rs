//! Raw connections to a test server: TLS with a chosen ALPN and source address, bytes written by
//! hand (an HTTP/2 preface, a half-sent HTTP/1.1 head, a request line no client library sends),
//! and timing of when the server closes the connection.

use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An empty SETTINGS frame: length 0, type 0x4, no flags, stream 0.
pub const H2_EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];

pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A TLS connection to the test server.
pub type Tls = TlsStream<TcpStream>;

/// `host:port` of a `https://host:port` base URL.
pub fn addr_of(base_url: &str) -> SocketAddr {
    base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .parse()
        .expect("base URL is https://ip:port")
}

/// A TCP connection to `addr` from the local address `from` (e.g. 127.0.0.2, to act as a second
/// client host on loopback), or from the default address.
pub async fn tcp_from(addr: SocketAddr, from: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(addr).await
}

/// Completes a TLS handshake over `tcp`, trusting only `ca_pem`, offering `alpn`.
pub async fn tls_over(tcp: TcpStream, ca_pem: &[u8], alpn: &[&[u8]]) -> io::Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        roots
            .add(cert)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from("localhost").expect("valid name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// A TLS connection to `addr` (optionally from source address `from`) offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    from: Option<IpAddr>,
    ca_pem: &[u8],
    alpn: &[&[u8]],
) -> io::Result<Tls> {
    let tcp = tcp_from(addr, from).await?;
    tls_over(tcp, ca_pem, alpn).await
}

/// Reads (and keeps) everything until the peer closes or `limit` passes. Returns the bytes read
/// and, if the peer closed (EOF or a reset), how long after the call that happened.
pub async fn read_until_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(started.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` on a fresh TLS connection offering HTTP/1.1 and returns everything the server
/// answers before it closes (within `limit`).
pub async fn http1_exchange(
    addr: SocketAddr,
    ca_pem: &[u8],
    request: &[u8],
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let mut tls = tls_connect(addr, None, ca_pem, &[ALPN_HTTP1]).await?;
    tls.write_all(request).await?;
    tls.flush().await?;
    let (answer, closed) = read_until_closed(&mut tls, limit).await;
    match closed {
        Some(_) => Ok(answer),
        None => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the server kept the connection open",
        )),
    }
}

/// An HTTP/2 HEADERS frame (END_STREAM | END_HEADERS) for `GET https <path>` on `stream_id`,
/// encoded with HPACK indexed and literal-without-indexing fields only (no dynamic table).
pub fn h2_get(stream_id: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x87]; // :method GET, :scheme https (static table)
    block.push(0x04); // :path, literal without indexing, name from static index 4
    assert!(path.len() < 127, "short paths only");
    block.push(path.len() as u8);
    block.extend_from_slice(path.as_bytes());
    let mut frame = Vec::new();
    frame.extend_from_slice(&(block.len() as u32).to_be_bytes()[1..]);
    frame.push(0x1); // HEADERS
    frame.push(0x1 | 0x4); // END_STREAM | END_HEADERS
    frame.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
    frame.extend(block);
    frame
}

/// The status of the first HTTP/1.x response in `bytes`, with its head and body.
pub fn split_http1_response(bytes: &[u8]) -> Option<(u16, String, Vec<u8>)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    Some((status, head, bytes[end + 4..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_get_frame_is_well_formed() {
        let f = h2_get(1, "/healthz");
        assert_eq!(&f[..3], &[0, 0, 12]);
        assert_eq!(f[3], 0x1);
        assert_eq!(f[4], 0x5);
        assert_eq!(&f[5..9], &[0, 0, 0, 1]);
        assert_eq!(&f[9..13], &[0x82, 0x87, 0x04, 8]);
        assert_eq!(&f[13..], b"/healthz");
        assert_eq!(f.len(), 9 + 12);
    }

    #[test]
    fn splits_a_response() {
        let (status, head, body) =
            split_http1_response(b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!(status, 404);
        assert!(head.contains("content-length"));
        assert_eq!(body, b"{}");
    }
}
