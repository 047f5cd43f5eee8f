//! Green sockets (TCP, UDP, any socket adopted) and green waits on any file descriptor: every
//! call looks like a blocking call, but only the calling green thread waits; the hub serves the
//! others meanwhile.

mod addr;
pub(crate) mod buffer;
mod io;
mod poll;
pub(crate) mod socket;
mod tcp;
mod udp;

pub use addr::resolve;
pub use io::{peek, read_until, read_until_any, recv, send, sendall, sendall_vectored, unread};
pub use poll::{notify_close, poll, POLL_MAX};
pub use socket::{
    adopt_fd, close, family, fileno, get_option, give, local_addr, peer_addr, set_option,
    set_timeout, shutdown, timeout, wait, SOCKOPT_MAX,
};
pub use tcp::{accept, connect, listen};
pub use udp::{bind_udp, recv_from, send_to};

/// A green socket handle.
pub type SocketId = u64;
