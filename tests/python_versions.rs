//! Which CPython versions `gh_py_init` accepts, checked against fake interpreters (a real
//! CPython 3.14.0 is not available here): from 3.14 on, Python green threads need
//! `PyUnstable_ThreadState_SetStackProtection` (see `src/python/mod.rs`), so a 3.14+ interpreter
//! without it is refused with ENOTSUP, and 3.15 takes the same path as 3.14.
//!
//! A fake interpreter is a shared object compiled here that exports `Py_Version` and, or not, a
//! stub of that function; the child process (this test binary re-executed: the library
//! resolves CPython once per process) loads it RTLD_GLOBAL, so the library's
//! `dlsym(RTLD_DEFAULT)` finds its symbols as it finds python3's. Past the version checks the
//! fake has nothing else, so an accepted version fails later, with ENOSYS (no
//! `PyEval_RestoreThread`): ENOSYS means "not refused for its version".

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD_ENV: &str = "GREENHUB_FAKE_PYTHON";

/// The child's body: only does something when started by the parent test below.
#[test]
fn fake_python_child() {
    let Some(fake) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = CString::new(fake.into_encoded_bytes()).unwrap();
    // SAFETY: dlopen of a shared object this test compiled (two symbols, no constructors).
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    assert!(!handle.is_null(), "dlopen failed");
    let (result, errno) = match greenhub::python::init() {
        Ok(()) => (0, 0),
        Err(e) => (-1, e.0),
    };
    let name = match errno {
        libc::ENOTSUP => "ENOTSUP",
        libc::ENOSYS => "ENOSYS",
        _ => "other",
    };
    println!("\nGH_PY_INIT {result} {name}");
}

/// Compiles a fake interpreter of version `hex`, with or without the stack-bounds call.
fn fake_python(dir: &Path, hex: u32, with_stack_protection: bool) -> PathBuf {
    let mut source = format!("const unsigned long Py_Version = {hex:#x}UL;\n");
    if with_stack_protection {
        source.push_str(
            "int PyUnstable_ThreadState_SetStackProtection(void *t, void *a, unsigned long n)\n\
             { (void)t; (void)a; (void)n; return 0; }\n",
        );
    }
    let stem = format!("fake_python_{hex:08x}_{}", u8::from(with_stack_protection));
    let c = dir.join(format!("{stem}.c"));
    let so = dir.join(format!("{stem}.so"));
    std::fs::write(&c, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(status.success(), "{cc} failed on {}", c.display());
    so
}

/// What gh_py_init answers in a process that looks like CPython `hex`.
fn init_under(dir: &Path, hex: u32, with_stack_protection: bool) -> String {
    let so = fake_python(dir, hex, with_stack_protection);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fake_python_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &so)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("GH_PY_INIT"))
        .unwrap_or_else(|| {
            panic!("the child printed no result: {stdout}");
        });
    line.trim_start_matches("GH_PY_INIT ").to_string()
}

#[test]
fn versions_are_accepted_or_refused_by_the_stack_bounds_rule() {
    let dir = std::env::temp_dir().join(format!("greenhub-fake-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        // (version, has PyUnstable_ThreadState_SetStackProtection, expected)
        (0x0308_0FF0, false, "-1 ENOTSUP"), // before 3.9
        (0x030D_00F0, false, "-1 ENOSYS"),  // 3.13: the call is not needed
        (0x030E_00F0, false, "-1 ENOTSUP"), // 3.14.0: it is needed and missing
        (0x030E_01F0, true, "-1 ENOSYS"),   // 3.14.1: present, not refused
        (0x030F_00A0, false, "-1 ENOTSUP"), // 3.15 without it: the same rule as 3.14
        (0x030F_00A0, true, "-1 ENOSYS"),   // 3.15 with it
    ];
    let got: Vec<String> = cases
        .iter()
        .map(|&(hex, with, _)| init_under(&dir, hex, with))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    for ((hex, with, want), got) in cases.iter().zip(&got) {
        assert_eq!(
            got, want,
            "Py_Version {hex:#x}, stack protection call present: {with}"
        );
    }
}
