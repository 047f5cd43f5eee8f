//! Host names to addresses. Numeric addresses are parsed in place; names are resolved on a
//! thread-pool worker, so a slow DNS server stalls only the calling green thread.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Errno, Result};
use crate::{sys, tpool};

/// Addresses for `host:port`. `None` or an empty host means all IPv4 addresses (0.0.0.0).
/// A name that does not resolve fails with ENXIO (which connect(2) never gives), a temporary
/// failure of the name server (or no worker thread to ask it) with EAGAIN.
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
    if host.len() > 253 {
        return Err(Errno(libc::EINVAL));
    }
    let name = CString::new(host).map_err(|_| Errno(libc::EINVAL))?;
    tpool::execute(move || sys::resolve_name(&name, port))?
}
