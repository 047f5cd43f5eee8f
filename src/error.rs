//! The one error type of the Rust API: an `errno` value, so the C ABI can pass it on unchanged.

use std::fmt;
use std::io;

/// An `errno` value (`libc::EBADF`, `libc::ETIMEDOUT`, ...).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

/// Result of every fallible greenhub call.
pub type Result<T> = std::result::Result<T, Errno>;

impl Errno {
    /// The last OS error of this thread.
    pub(crate) fn last() -> Errno {
        Errno::from(io::Error::last_os_error())
    }
}

impl From<io::Error> for Errno {
    fn from(err: io::Error) -> Errno {
        Errno(err.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<Errno> for io::Error {
    fn from(err: Errno) -> io::Error {
        io::Error::from_raw_os_error(err.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self)
    }
}

impl std::error::Error for Errno {}
