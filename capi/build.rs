//! The shared library is loaded by its soname, so a newer ABI-compatible build can replace it.

use std::env;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets this");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgreenhub.so.{major}");
}
