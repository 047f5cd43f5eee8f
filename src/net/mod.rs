//! Green TCP sockets: every call looks like a blocking socket call, but only the calling green
//! thread waits; the hub serves the others meanwhile.

mod addr;
pub(crate) mod buffer;
mod io;
pub(crate) mod socket;
mod tcp;

pub use addr::resolve;
pub use io::{read_until, recv, send, sendall, sendall_vectored};
pub use socket::{
    adopt_fd, close, fileno, get_option, give, local_addr, peer_addr, set_option, set_timeout,
    shutdown, timeout, wait, SOCKOPT_MAX,
};
pub use tcp::{accept, connect, listen};

/// A green socket handle.
pub type SocketId = u64;
