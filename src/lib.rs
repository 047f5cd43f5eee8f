//! greenhub: green threads and green TCP sockets on a per-OS-thread epoll hub.
//!
//! Write plain sequential code, one green thread per connection; a blocking call switches to the
//! hub, which runs whatever else can run. The Rust API is small: [`thread`] (spawn, join, kill,
//! sleep, deadlines), [`net`] (listen, accept, connect, recv, send, readline, sendfile), [`fs`]
//! (files opened and read without blocking the hub), [`http`] (HTTP/1.1 server connections),
//! [`sync`] (semaphores, events, channels, park/unpark), [`pool`] (green pools, `serve`) and
//! [`tpool`] (blocking calls on native threads).
//!
//! The crate is layered (see ARCHITECTURE.md): `error` and `sys` at the bottom; the
//! [`runtime`] (coroutines, tasks, the object table, the I/O driver, timers, the scheduler,
//! switch hooks), which names no resource; then the resources, each registering with the
//! runtime: [`net`], [`fs`], [`http`], [`sync`], [`pool`], [`tpool`] and `python`. The C ABI is the crate
//! `greenhub-capi` (directory `capi/`), a thin layer over this API.

pub mod error;
pub mod fs;
mod sys;

pub mod runtime;

pub mod http;
pub mod net;
pub mod pool;
pub mod python;
pub mod sync;
pub mod tpool;

pub use error::{Errno, Result};
pub use runtime::inspect;
pub use runtime::log;
pub use runtime::thread;
pub use runtime::watch;
pub use runtime::{STATUS_PANIC, STATUS_STACK_OVERFLOW};
