//! Host names to addresses. Numeric addresses are parsed in place; names are resolved on a
//! thread-pool worker, so a slow DNS server stalls only the calling green thread.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::error::{Errno, Result};
use crate::tpool;

/// Addresses for `host:port`. `None` or an empty host means all IPv4 addresses (0.0.0.0).
/// A name that does not resolve fails with EADDRNOTAVAIL.
pub fn resolve(host: Option<&str>, port: u16) -> Result<Vec<SocketAddr>> {
    let host = host.unwrap_or("");
    if host.is_empty() {
        return Ok(vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        )]);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.len() > 253 || host.contains('\0') {
        return Err(Errno(libc::EINVAL));
    }
    let name = host.to_string();
    let found = tpool::execute(move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>())
    })?;
    match found {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs),
        _ => Err(Errno(libc::EADDRNOTAVAIL)),
    }
}
