//! Loopback plumbing: a free address, and a plain HTTP/1.0 GET for the operator's metrics and
//! health endpoints (no client library, so a half-started server is just "no answer yet").

use std::net::{Ipv4Addr, SocketAddr};

/// A loopback address with a port that was free a moment ago.
pub fn free_loopback_address() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// `GET path` on `addr`: the raw answer, status line and headers included; `None` while
/// nothing answers.
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    Some(answer)
}
