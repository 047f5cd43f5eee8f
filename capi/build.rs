//! The shared library is loaded by its soname, so an ABI-compatible build can replace it. While
//! the version is 0.x a minor release may change the ABI, so the soname carries MAJOR.MINOR
//! (`libgreenhub.so.0.2`); from 1.0 on it carries MAJOR alone (README, "ABI policy"). The
//! Makefile's SOVERSION follows the same rule; `make check-exports` fails if they disagree.

use std::env;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets this");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets this");
    let soversion = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgreenhub.so.{soversion}");
}
