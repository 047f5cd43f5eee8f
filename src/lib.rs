//! greenhub: green threads and green TCP sockets on a per-OS-thread epoll hub.
//!
//! Write plain sequential code, one green thread per connection; a blocking call switches to the
//! hub, which runs whatever else can run. The Rust API is small: [`thread`] (spawn, join, kill,
//! sleep, deadlines) and [`net`] (listen, accept, connect, recv, send, readline, sendfile).
//! The C ABI in [`capi`] is a thin layer over it; `include/greenhub.h` is generated from it.

mod coroutine;
pub mod error;
mod handle;
mod hub;
pub mod log;
pub mod net;
mod offload;
mod sys;
pub mod thread;
mod timer;

pub mod capi;

pub use error::{Errno, Result};
pub use hub::{STATUS_PANIC, STATUS_STACK_OVERFLOW};
