//! Generates `include/greenhub.h` from the `extern "C"` items in `src/capi/` with cbindgen.
//!
//! The header is committed; `make check-header` regenerates it and fails on any difference.
//! `GREENHUB_HEADER_OUT` redirects the output (used by the check so it never edits the tree).

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=GREENHUB_HEADER_OUT");

    // The shared library is loaded by its soname, so a newer ABI-compatible build can replace it.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets this");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgreenhub.so.{major}");

    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("valid cbindgen.toml");
    config.after_includes = Some(version_macros());
    let out = env::var_os("GREENHUB_HEADER_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("include").join("greenhub.h"));
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(out);
        }
        // A syntax error is reported by rustc itself with better context; do not mask it here.
        Err(err) => println!("cargo:warning=cbindgen could not generate the header: {err}"),
    }
}

/// Version macros taken from Cargo.toml, so the header can never disagree with the library.
fn version_macros() -> String {
    let get = |k: &str| env::var(k).expect("cargo sets the package version");
    format!(
        "\n#define GREENHUB_VERSION_MAJOR {}\n#define GREENHUB_VERSION_MINOR {}\n#define GREENHUB_VERSION_PATCH {}\n#define GREENHUB_VERSION \"{}\"\n",
        get("CARGO_PKG_VERSION_MAJOR"),
        get("CARGO_PKG_VERSION_MINOR"),
        get("CARGO_PKG_VERSION_PATCH"),
        get("CARGO_PKG_VERSION"),
    )
}
