//! Hand-built TLS ClientHello messages, to prove what the server refuses (old protocol
//! versions, non-AEAD cipher suites) without depending on a client library that can't offer them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const TLS_1_1: [u8; 2] = [0x03, 0x02];
pub const TLS_1_2: [u8; 2] = [0x03, 0x03];
/// AES-128-CBC-SHA suites (not AEAD).
pub const CBC_SUITES: &[u16] = &[0x002f, 0x0035, 0xc009, 0xc013, 0xc023, 0xc027];
/// ECDHE-ECDSA/RSA with AES-GCM (AEAD).
pub const GCM_SUITES: &[u16] = &[0xc02b, 0xc02f];

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend(kind.to_be_bytes());
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// A ClientHello record offering `version` and `suites`, with the extensions a real client sends.
pub fn client_hello(version: [u8; 2], suites: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(version);
    body.extend([7u8; 32]);
    body.push(0);
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    let mut ext = Vec::new();
    let name = b"localhost";
    let mut sni = Vec::new();
    sni.extend(((name.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend(name);
    push_ext(&mut ext, 0x0000, &sni);
    push_ext(&mut ext, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]);
    push_ext(&mut ext, 0x000b, &[1, 0]);
    push_ext(
        &mut ext,
        0x000d,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    );
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1u8];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// What the server answered to a probe.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// A handshake record (ServerHello): the server accepted the offer.
    ServerHello,
    /// A TLS alert with this description code (e.g. 70 protocol_version, 40 handshake_failure).
    Alert(u8),
    /// The connection closed without a TLS answer.
    Closed,
    /// Something else, e.g. an HTTP response.
    Other(Vec<u8>),
}

/// Sends `bytes` to `addr` and classifies the first answer.
pub fn probe(addr: &str, bytes: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).expect("write");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    match buf[..n] {
        [] => Answer::Closed,
        [0x16, ..] => Answer::ServerHello,
        [0x15, _, _, _, _, _, desc, ..] => Answer::Alert(desc),
        _ => Answer::Other(buf[..n].to_vec()),
    }
}
