//! A green thread that overflows its stack dies alone: it is reported, its sockets are closed,
//! and the process and the other threads go on. Run in a child process (this test binary
//! re-executed), so a regression cannot take the test runner down with it.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenhub::log::{Report, ReportKind};
use greenhub::net;
use greenhub::thread::{self, SpawnOptions};

const CHILD_ENV: &str = "GREENHUB_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = [depth as u8; 1024];
    std::hint::black_box(&frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(u64::from(std::hint::black_box(frame[7])))
}

/// The child's body: only does something when started by the parent test below.
#[test]
fn overflow_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let reports = Arc::new(Mutex::new(Vec::<Report>::new()));
    let sink = reports.clone();
    greenhub::log::set_log(Some(Box::new(move |report| {
        sink.lock().unwrap().push(report.clone())
    })));

    let listener = net::listen(Some("127.0.0.1"), 0, 4).unwrap();
    let port = net::local_addr(listener).unwrap().port();
    let client = net::connect("127.0.0.1", port).unwrap();
    let (server, _) = net::accept(listener).unwrap();

    // A healthy neighbour that keeps working across the overflow.
    let neighbour = thread::spawn(|| {
        for _ in 0..5 {
            thread::sleep(Duration::from_millis(2)).unwrap();
        }
        11
    })
    .unwrap();
    let opts = SpawnOptions {
        socket: Some(server),
        stack_size: Some(64 * 1024),
        name: Some("deep".into()),
        ..Default::default()
    };
    let victim = thread::spawn_with(opts, || {
        thread::sleep(Duration::from_millis(1)).unwrap();
        recurse(0) as i32
    })
    .unwrap();

    assert_eq!(thread::join(victim), Ok(greenhub::STATUS_STACK_OVERFLOW));
    assert_eq!(thread::join(neighbour), Ok(11));
    // Its socket was closed: the peer sees end of stream.
    let mut buf = [0u8; 4];
    assert_eq!(net::recv(client, &mut buf), Ok(0));
    let reports = reports.lock().unwrap().clone();
    assert!(
        reports.iter().any(|r| r.kind == ReportKind::StackOverflow
            && r.thread == victim
            && r.status == greenhub::STATUS_STACK_OVERFLOW
            && r.text.contains("deep")
            && r.text.contains("overflowed its stack")),
        "{reports:?}"
    );
    // The hub still works: more threads, more sockets.
    let t = thread::spawn(|| 0).unwrap();
    assert_eq!(thread::join(t), Ok(0));
    println!("CHILD-OK");
}

#[test]
fn stack_overflow_kills_only_that_thread() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "overflow_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "child failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    // The child's reports go to its sink, the generator crate's own line included: nothing
    // reaches stderr directly.
    assert!(
        !stderr.contains("coroutine has overflowed its stack"),
        "stderr:\n{stderr}"
    );
}
