//! Loopback plumbing: a free address, and a plain HTTP/1.0 GET for the operator's metrics and
//! health endpoints (no client library, so a half-started server is just "no answer yet").

use std::net::{Ipv4Addr, SocketAddr};

/// Where [`free_loopback_address`] looks: below Linux's default ephemeral range.
const QUIET_PORTS: std::ops::Range<u16> = 20_000..32_768;

/// A loopback address with a port that was free a moment ago, below the kernel's ephemeral
/// range where it can tell (`net.ipv4.ip_local_port_range`): the ports of outgoing connections
/// come from that range, so one of them cannot take the port before its server binds it.
/// Elsewhere, any port the kernel hands out.
pub fn free_loopback_address() -> std::io::Result<SocketAddr> {
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok());
    if let Some(end) = ephemeral_from.map(|from| from.min(QUIET_PORTS.end)) {
        let span = end.saturating_sub(QUIET_PORTS.start);
        // Different processes start at different ports, so they seldom try the same ones.
        let seed = std::process::id()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
        for step in 0..span.min(500) {
            let port =
                QUIET_PORTS.start + ((seed + u32::from(step) * 7919) % u32::from(span)) as u16;
            if let Ok(listener) = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                return listener.local_addr();
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_address_is_on_loopback_below_the_ephemeral_range_and_bindable() {
        let address = free_loopback_address().unwrap();
        assert!(address.ip().is_loopback());
        let ephemeral_from: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if ephemeral_from > QUIET_PORTS.start {
            assert!(QUIET_PORTS.contains(&address.port()) && address.port() < ephemeral_from);
        }
        std::net::TcpListener::bind(address).expect("still free");
    }
}
