//! greenhub: green threads and green TCP sockets on a per-OS-thread epoll hub.
//!
//! Write plain sequential code, one green thread per connection; a blocking call switches to the
//! hub, which runs whatever else can run. The Rust API is small: [`thread`] (spawn, join, kill,
//! sleep, deadlines), [`net`] (listen, accept, connect, recv, send, readline, sendfile), [`fs`] (files opened
//! and read without blocking the hub),
//! [`sync`] (semaphores, events, channels, park/unpark), [`pool`] (green pools, `serve`) and
//! [`tpool`] (blocking calls on native threads).
//! The C ABI in [`capi`] is a thin layer over it; `include/greenhub.h` is generated from it.

mod coroutine;
pub mod error;
pub mod fs;
mod handle;
mod hub;
pub mod log;
pub mod net;
pub mod pool;
mod python;
pub mod sync;
mod sys;
pub mod thread;
mod timer;
pub mod tpool;

pub mod capi;

pub use error::{Errno, Result};
pub use hub::{STATUS_PANIC, STATUS_STACK_OVERFLOW};
