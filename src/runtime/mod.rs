//! The runtime: green threads and the hub that schedules them. It knows nothing of what it
//! schedules: resources (sockets, sync primitives, pools, the thread pool, Python) live above
//! it, keep their state in the object table as [`Object`]s, make threads wait with
//! [`Sched::begin_wait`] + [`wait`] and wake them with [`Sched::wake`], wait on file
//! descriptors through the driver's I/O slots (`io`), and hook into switches with
//! [`hooks`]. Nothing in this module imports a resource.
//!
//! - `coroutine`: stackful coroutines, the only user of the `generator` crate;
//! - `task`: task records, waits and wake reasons; `table`: generational handle tables;
//! - `object`: the one object table; `driver`: mio and I/O slots; `inbox`: wake-ups from
//!   other OS threads; `timer`: deadlines;
//! - `sched`: the scheduler's state, waits and wakes; `hub`: the loop, the root and the
//!   deadlock rule; `hooks`: switch hooks;
//! - `thread`: the public green-thread API; `log`: reports;
//! - `dump`: the thread dump and the hub's counters, `inspect` their public API; `watch`:
//!   hub-blocking detection.

mod coroutine;
pub(crate) mod driver;
pub mod dump;
pub(crate) mod hooks;
mod hub;
pub(crate) mod inbox;
pub mod inspect;
pub(crate) mod io;
pub mod log;
pub(crate) mod object;
pub(crate) mod sched;
mod table;
pub(crate) mod task;
pub mod thread;
mod timer;
pub mod watch;

pub(crate) use driver::Direction;
pub(crate) use hub::{wait, with, Hub};
pub use hub::{STATUS_PANIC, STATUS_STACK_OVERFLOW};
pub(crate) use object::{Cx, Object, Objects};
pub(crate) use sched::Sched;
pub(crate) use task::{Wait, Waiter, Wake};
