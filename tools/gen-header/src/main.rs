//! Writes the C header of greenhub's C ABI crate (capi/) to the path given as the only
//! argument. cbindgen reads that crate alone (no dependency is parsed), so nothing but the C
//! ABI can reach the header; the version macros come from the workspace's version.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: greenhub-gen-header OUT.h");
        return ExitCode::from(2);
    };
    let capi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../capi");
    let mut config = match cbindgen::Config::from_file(capi.join("cbindgen.toml")) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("greenhub-gen-header: capi/cbindgen.toml: {err}");
            return ExitCode::FAILURE;
        }
    };
    config.after_includes = Some(version_macros());
    match cbindgen::Builder::new()
        .with_crate(&capi)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            if let Some(dir) = out.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            bindings.write_to_file(&out);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("greenhub-gen-header: cannot generate the header: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Version macros from the workspace version, so the header can never disagree with the
/// library. GREENHUB_VERSION_HEX is libuv's UV_VERSION_HEX: one number to compare in `#if`.
fn version_macros() -> String {
    let number = |s: &str| -> u32 { s.parse().expect("cargo's version parts are numbers") };
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let patch = env!("CARGO_PKG_VERSION_PATCH");
    let hex = (number(major) << 16) | (number(minor) << 8) | number(patch);
    let version = env!("CARGO_PKG_VERSION");
    [
        String::new(),
        format!("#define GREENHUB_VERSION_MAJOR {major}"),
        format!("#define GREENHUB_VERSION_MINOR {minor}"),
        format!("#define GREENHUB_VERSION_PATCH {patch}"),
        format!("#define GREENHUB_VERSION \"{version}\""),
        "/* (MAJOR << 16) | (MINOR << 8) | PATCH: `#if GREENHUB_VERSION_HEX >= 0x000200` holds \
         from 0.2.0 on. */"
            .to_string(),
        format!("#define GREENHUB_VERSION_HEX 0x{hex:06x}"),
        String::new(),
    ]
    .join("\n")
}
