//! The hub and green threads through the Rust API: order, timers, join, kill, exit, deadlines,
//! deadlock detection, stack pool and stack exhaustion. Each test runs on its own OS thread and
//! so gets its own hub.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenhub::thread::{self, SpawnOptions};
use greenhub::Errno;

fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn spawned_threads_run_when_the_spawner_blocks_in_fifo_order() {
    let seen = log();
    let mut ids = Vec::new();
    for i in 0..5 {
        let seen = seen.clone();
        ids.push(
            thread::spawn(move || {
                seen.borrow_mut().push(format!("t{i}"));
                0
            })
            .unwrap(),
        );
    }
    assert!(
        seen.borrow().is_empty(),
        "nothing runs before the root blocks"
    );
    thread::yield_now().unwrap();
    assert_eq!(*seen.borrow(), ["t0", "t1", "t2", "t3", "t4"]);
    for id in ids {
        assert_eq!(thread::join(id), Ok(0));
    }
}

#[test]
fn join_returns_status_once() {
    let t = thread::spawn(|| 42).unwrap();
    assert_eq!(thread::join(t), Ok(42));
    assert_eq!(thread::join(t), Err(Errno(libc::EBADF)));
    let d = thread::spawn_n(|| 0).unwrap();
    assert_eq!(thread::join(d), Err(Errno(libc::EINVAL)));
    assert_eq!(thread::join(0x1234_5678), Err(Errno(libc::EBADF)));
}

#[test]
fn current_is_zero_in_root_and_the_id_inside() {
    assert_eq!(thread::current(), 0);
    let inside = Rc::new(RefCell::new(0));
    let i = inside.clone();
    let t = thread::spawn(move || {
        *i.borrow_mut() = thread::current();
        0
    })
    .unwrap();
    thread::join(t).unwrap();
    assert_eq!(*inside.borrow(), t);
}

#[test]
fn sleepers_wake_in_deadline_order() {
    let seen = log();
    let ids: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|ms| {
            let seen = seen.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms)).unwrap();
                seen.borrow_mut().push(ms.to_string());
                0
            })
            .unwrap()
        })
        .collect();
    let start = Instant::now();
    thread::run().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(*seen.borrow(), ["10", "20", "30"]);
    for id in ids {
        assert_eq!(thread::join(id), Ok(0));
    }
}

#[test]
fn the_root_sleeps_while_threads_run() {
    let seen = log();
    let s = seen.clone();
    thread::spawn_n(move || {
        s.borrow_mut().push("thread".into());
        0
    })
    .unwrap();
    thread::sleep(Duration::from_millis(5)).unwrap();
    assert_eq!(*seen.borrow(), ["thread"]);
}

#[test]
fn kill_cancels_the_pending_blocking_call() {
    let t = thread::spawn(|| match thread::sleep(Duration::from_secs(10)) {
        Err(Errno(libc::ECANCELED)) => 7,
        _ => 1,
    })
    .unwrap();
    thread::yield_now().unwrap(); // let it block
    let start = Instant::now();
    thread::kill(t).unwrap();
    assert_eq!(thread::join(t), Ok(7));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_thread_killed_before_it_starts_sees_ecanceled_at_its_first_block() {
    let t = thread::spawn(|| {
        // Later blocking calls keep failing, so the thread can clean up and leave.
        let first = thread::sleep(Duration::from_millis(1));
        let second = thread::sleep(Duration::from_millis(1));
        i32::from(first == Err(Errno(libc::ECANCELED)) && second == first)
    })
    .unwrap();
    thread::kill(t).unwrap();
    assert_eq!(thread::join(t), Ok(1));
    assert_eq!(thread::kill(0), Err(Errno(libc::EINVAL)));
}

#[test]
fn exit_ends_the_thread_from_deep_inside() {
    fn nested(depth: u32) -> i32 {
        if depth == 0 {
            thread::exit(9);
            unreachable!("exit returned in a green thread");
        }
        nested(depth - 1) + 100
    }
    let t = thread::spawn(|| nested(5)).unwrap();
    assert_eq!(thread::join(t), Ok(9));
    assert_eq!(thread::exit(1), Errno(libc::EPERM), "the root cannot exit");
}

#[test]
fn join_of_itself_is_edeadlk() {
    let t = thread::spawn(|| match thread::join(thread::current()) {
        Err(Errno(libc::EDEADLK)) => 3,
        _ => 1,
    })
    .unwrap();
    assert_eq!(thread::join(t), Ok(3));
}

#[test]
fn deadlines_nest_and_pop() {
    thread::deadline_push(Some(Duration::from_millis(1000))).unwrap();
    thread::deadline_push(Some(Duration::from_millis(20))).unwrap();
    let start = Instant::now();
    assert_eq!(
        thread::sleep(Duration::from_secs(5)),
        Err(Errno(libc::ETIMEDOUT))
    );
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(20) && waited < Duration::from_millis(500));
    thread::deadline_pop().unwrap();
    // The outer deadline is still there but far: a short sleep completes.
    assert_eq!(thread::sleep(Duration::from_millis(5)), Ok(()));
    thread::deadline_pop().unwrap();
    assert_eq!(thread::deadline_pop(), Err(Errno(libc::EINVAL)));
    // A scope without a deadline still needs its pop.
    thread::deadline_push(None).unwrap();
    assert_eq!(thread::sleep(Duration::from_millis(1)), Ok(()));
    thread::deadline_pop().unwrap();
}

#[test]
fn a_deadline_in_a_green_thread_is_its_own() {
    let t = thread::spawn(|| {
        thread::deadline_push(Some(Duration::from_millis(10))).unwrap();
        let r = thread::sleep(Duration::from_secs(5));
        thread::deadline_pop().unwrap();
        i32::from(r == Err(Errno(libc::ETIMEDOUT)))
    })
    .unwrap();
    let other = thread::spawn(|| {
        thread::sleep(Duration::from_millis(30)).unwrap();
        0
    })
    .unwrap();
    assert_eq!(thread::join(t), Ok(1));
    assert_eq!(thread::join(other), Ok(0));
}

#[test]
fn the_root_gets_edeadlk_when_nothing_can_wake_it() {
    // Two threads that join each other can never end; the root's join must not hang.
    let second = Rc::new(RefCell::new(0u64));
    let s = second.clone();
    let first = thread::spawn(move || {
        let other = *s.borrow();
        thread::join(other).map_or(1, |_| 0)
    })
    .unwrap();
    let f = first;
    let t2 = thread::spawn(move || thread::join(f).map_or(1, |_| 0)).unwrap();
    *second.borrow_mut() = t2;
    let start = Instant::now();
    assert_eq!(thread::join(first), Err(Errno(libc::EDEADLK)));
    assert_eq!(thread::run(), Err(Errno(libc::EDEADLK)));
    assert!(start.elapsed() < Duration::from_secs(1));
    // The two are still parked; kill them so they end and can be joined.
    thread::kill(first).unwrap();
    thread::kill(t2).unwrap();
    assert_eq!(thread::join(first), Ok(1));
    assert_eq!(thread::join(t2), Ok(1));
}

#[test]
fn run_waits_for_every_thread() {
    let seen = log();
    for i in 0..3 {
        let seen = seen.clone();
        thread::spawn_n(move || {
            thread::sleep(Duration::from_millis(i * 5 + 1)).unwrap();
            seen.borrow_mut().push(i.to_string());
            0
        })
        .unwrap();
    }
    thread::run().unwrap();
    assert_eq!(seen.borrow().len(), 3);
    assert_eq!(thread::run(), Ok(()), "nothing left: returns at once");
}

#[test]
fn names_and_stack_sizes() {
    let opts = SpawnOptions {
        name: Some("a-very-long-name-that-goes-past-thirty-one-bytes".into()),
        stack_size: Some(64 * 1024),
        ..Default::default()
    };
    let t = thread::spawn_with(opts, || 0).unwrap();
    let name = thread::name(t).unwrap().unwrap();
    assert_eq!(name.len(), thread::NAME_MAX);
    thread::set_name(t, "worker").unwrap();
    assert_eq!(thread::name(t).unwrap().as_deref(), Some("worker"));
    thread::join(t).unwrap();
    assert_eq!(thread::name(t), Err(Errno(libc::EBADF)));
    let tiny = SpawnOptions {
        stack_size: Some(1024),
        ..Default::default()
    };
    assert_eq!(
        thread::spawn_with(tiny, || 0).err(),
        Some(Errno(libc::EINVAL))
    );
}

#[test]
fn an_impossible_stack_is_enomem_and_nothing_breaks() {
    let huge = SpawnOptions {
        stack_size: Some(1 << 46),
        ..Default::default()
    };
    assert_eq!(
        thread::spawn_with(huge, || 0).err(),
        Some(Errno(libc::ENOMEM))
    );
    let t = thread::spawn(|| 5).unwrap();
    assert_eq!(thread::join(t), Ok(5));
}

#[test]
fn thousands_of_threads_reuse_pooled_stacks() {
    for round in 0..3 {
        let ids: Vec<_> = (0..2000)
            .map(|i| {
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(1)).unwrap();
                    i % 7
                })
                .unwrap()
            })
            .collect();
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(thread::join(id), Ok(i as i32 % 7), "round {round}");
        }
    }
}

#[test]
fn a_panicking_rust_thread_dies_alone() {
    let t = thread::spawn(|| panic!("boom")).unwrap();
    let ok = thread::spawn(|| 0).unwrap();
    assert_eq!(thread::join(t), Ok(greenhub::STATUS_PANIC));
    assert_eq!(thread::join(ok), Ok(0));
}
