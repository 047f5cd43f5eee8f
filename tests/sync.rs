//! Semaphores, events, channels, park/unpark, green pools, serve and the thread pool through the
//! Rust API: FIFO order, deadlines, kill and free while waiting, rendezvous, EDEADLK, limits.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenhub::sync::{self, Capacity};
use greenhub::thread::{self, SpawnOptions};
use greenhub::{net, pool, tpool, Errno};

const MS: fn(u64) -> Option<Duration> = |ms| Some(Duration::from_millis(ms));

fn order() -> Rc<RefCell<Vec<i64>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn semaphore_wakes_waiters_in_fifo_order() {
    let sem = sync::semaphore_new(0).unwrap();
    let seen = order();
    let ids: Vec<_> = (0..5)
        .map(|i| {
            let seen = seen.clone();
            thread::spawn(move || {
                sync::acquire(sem, None).unwrap();
                seen.borrow_mut().push(i);
                0
            })
            .unwrap()
        })
        .collect();
    thread::yield_now().unwrap();
    assert_eq!(sync::semaphore_stat(sem), Ok((0, 5)));
    // A newcomer cannot overtake the waiters: released permits go to them first.
    for _ in 0..5 {
        sync::release(sem).unwrap();
        assert_eq!(sync::try_acquire(sem), Err(Errno(libc::EAGAIN)));
    }
    for id in ids {
        thread::join(id).unwrap();
    }
    assert_eq!(*seen.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(sync::semaphore_stat(sem), Ok((0, 0)));
}

#[test]
fn semaphore_timeouts_kill_free_and_bounds() {
    let sem = sync::semaphore_new(0).unwrap();
    let start = Instant::now();
    let t =
        thread::spawn(move || i32::from(sync::acquire(sem, MS(30)) == Err(Errno(libc::ETIMEDOUT))))
            .unwrap();
    assert_eq!(thread::join(t), Ok(1));
    assert!(start.elapsed() >= Duration::from_millis(30));
    // A zero timeout never waits: EAGAIN, as for a socket with a zero timeout.
    assert_eq!(
        sync::acquire(sem, Some(Duration::ZERO)),
        Err(Errno(libc::EAGAIN))
    );

    // Killed while waiting: the permit released later is not lost.
    let victim =
        thread::spawn(move || i32::from(sync::acquire(sem, None) == Err(Errno(libc::ECANCELED))))
            .unwrap();
    thread::yield_now().unwrap();
    thread::kill(victim).unwrap();
    assert_eq!(thread::join(victim), Ok(1));
    sync::release(sem).unwrap();
    assert_eq!(sync::semaphore_stat(sem), Ok((1, 0)));

    // Root waits that nothing could end are EDEADLK, not a hang.
    sync::try_acquire(sem).unwrap();
    assert_eq!(sync::acquire(sem, None), Err(Errno(libc::EDEADLK)));

    // Freed while waited on: EBADF.
    let waiter =
        thread::spawn(move || i32::from(sync::acquire(sem, None) == Err(Errno(libc::EBADF))))
            .unwrap();
    thread::yield_now().unwrap();
    sync::semaphore_free(sem).unwrap();
    assert_eq!(thread::join(waiter), Ok(1));
    assert_eq!(sync::release(sem), Err(Errno(libc::EBADF)));

    let bounded = sync::semaphore_new_bounded(2).unwrap();
    assert_eq!(sync::release(bounded), Err(Errno(libc::EOVERFLOW)));
    sync::acquire(bounded, None).unwrap();
    sync::release(bounded).unwrap();
    assert_eq!(sync::semaphore_stat(bounded), Ok((2, 0)));
    assert_eq!(sync::semaphore_new(-1), Err(Errno(libc::EINVAL)));
}

#[test]
fn a_counting_semaphore_at_i64_max_refuses_a_release() {
    let sem = sync::semaphore_new(i64::MAX - 1).unwrap();
    sync::release(sem).unwrap();
    assert_eq!(sync::release(sem), Err(Errno(libc::EOVERFLOW)));
    assert_eq!(
        sync::semaphore_stat(sem),
        Ok((i64::MAX, 0)),
        "the count did not wrap"
    );
    sync::try_acquire(sem).unwrap();
    sync::release(sem).unwrap();
    assert_eq!(sync::semaphore_stat(sem), Ok((i64::MAX, 0)));
}

#[test]
fn a_semaphore_guards_a_section_with_io_in_the_middle() {
    // The seed's point: a read-modify-write with a blocking call in the middle needs a lock.
    fn run(guarded: bool) -> i64 {
        let sem = sync::semaphore_new(1).unwrap();
        let counter = Rc::new(Cell::new(0i64));
        let ids: Vec<_> = (0..20)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || {
                    if guarded {
                        sync::acquire(sem, None).unwrap();
                    }
                    let read = counter.get();
                    thread::sleep(Duration::from_millis(1)).unwrap(); // I/O in the middle
                    counter.set(read + 1);
                    if guarded {
                        sync::release(sem).unwrap();
                    }
                    0
                })
                .unwrap()
            })
            .collect();
        for id in ids {
            thread::join(id).unwrap();
        }
        counter.get()
    }
    assert_eq!(run(true), 20);
    assert!(run(false) < 20, "without the semaphore updates are lost");
}

#[test]
fn events_wake_every_waiter_with_the_value() {
    let ev = sync::event_new().unwrap();
    let got = order();
    let ids: Vec<_> = (0..10)
        .map(|_| {
            let got = got.clone();
            thread::spawn(move || {
                let value = sync::event_wait(ev, None).unwrap(); // not inside borrow_mut: it blocks
                got.borrow_mut().push(value);
                0
            })
            .unwrap()
        })
        .collect();
    thread::yield_now().unwrap();
    assert_eq!(sync::event_is_set(ev), Ok(false));
    sync::event_set(ev, 77).unwrap();
    for id in ids {
        thread::join(id).unwrap();
    }
    assert_eq!(*got.borrow(), vec![77; 10]);
    assert_eq!(sync::event_wait(ev, None), Ok(77), "set: returns at once");
    sync::event_clear(ev).unwrap();
    assert_eq!(sync::event_wait(ev, MS(10)), Err(Errno(libc::ETIMEDOUT)));
    sync::event_free(ev).unwrap();
    assert_eq!(sync::event_is_set(ev), Err(Errno(libc::EBADF)));
}

#[test]
fn bounded_channel_order_backpressure_and_timeouts() {
    let ch = sync::channel_new(Capacity::Bounded(2)).unwrap();
    sync::try_send(ch, 1).unwrap();
    sync::try_send(ch, 2).unwrap();
    assert_eq!(sync::try_send(ch, 3), Err(Errno(libc::EAGAIN)));
    assert_eq!(sync::send(ch, 3, MS(20)), Err(Errno(libc::ETIMEDOUT)));
    // Blocked senders complete in order as the receiver drains.
    let ids: Vec<_> = (3..6)
        .map(|i| thread::spawn(move || sync::send(ch, i, None).map_or(1, |()| 0)).unwrap())
        .collect();
    thread::yield_now().unwrap();
    assert_eq!(sync::channel_stat(ch), Ok((2, 3, 0)));
    let received: Vec<i64> = (0..5).map(|_| sync::recv(ch, None).unwrap()).collect();
    assert_eq!(received, [1, 2, 3, 4, 5]);
    for id in ids {
        assert_eq!(thread::join(id), Ok(0));
    }
    assert_eq!(sync::try_recv(ch), Err(Errno(libc::EAGAIN)));
    assert_eq!(sync::recv(ch, None), Err(Errno(libc::EDEADLK)));
    assert_eq!(
        sync::channel_new(Capacity::Bounded(0)),
        Err(Errno(libc::EINVAL))
    );
}

#[test]
fn rendezvous_send_completes_only_when_taken() {
    let ch = sync::channel_new(Capacity::Rendezvous).unwrap();
    assert_eq!(sync::try_send(ch, 1), Err(Errno(libc::EAGAIN)));
    let log = Rc::new(RefCell::new(Vec::<&str>::new()));
    let l = log.clone();
    let sender = thread::spawn(move || {
        sync::send(ch, 42, None).unwrap();
        l.borrow_mut().push("sent");
        0
    })
    .unwrap();
    thread::sleep(Duration::from_millis(5)).unwrap();
    assert!(log.borrow().is_empty(), "no receiver yet: the send waits");
    assert_eq!(sync::recv(ch, None), Ok(42));
    log.borrow_mut().push("received");
    thread::join(sender).unwrap();
    assert_eq!(*log.borrow(), ["received", "sent"]);

    // A sender that times out takes its item back.
    let t =
        thread::spawn(move || i32::from(sync::send(ch, 9, MS(10)) == Err(Errno(libc::ETIMEDOUT))))
            .unwrap();
    assert_eq!(thread::join(t), Ok(1));
    assert_eq!(sync::try_recv(ch), Err(Errno(libc::EAGAIN)));
    // A receiver waiting lets try_send through.
    let r = thread::spawn(move || sync::recv(ch, None).unwrap() as i32).unwrap();
    thread::yield_now().unwrap();
    sync::try_send(ch, 5).unwrap();
    assert_eq!(thread::join(r), Ok(5));
}

#[test]
fn closing_a_channel_ends_it() {
    let ch = sync::channel_new(Capacity::Bounded(4)).unwrap();
    let receiver =
        thread::spawn(move || i32::from(sync::recv(ch, None) == Err(Errno(libc::EPIPE)))).unwrap();
    thread::yield_now().unwrap();
    sync::channel_close(ch).unwrap();
    assert_eq!(thread::join(receiver), Ok(1));
    assert_eq!(sync::send(ch, 1, None), Err(Errno(libc::EPIPE)));

    // Buffered items are still received after close; then EPIPE. Waiting senders get EPIPE.
    let ch = sync::channel_new(Capacity::Bounded(1)).unwrap();
    sync::send(ch, 10, None).unwrap();
    let sender =
        thread::spawn(move || i32::from(sync::send(ch, 11, None) == Err(Errno(libc::EPIPE))))
            .unwrap();
    thread::yield_now().unwrap();
    sync::channel_close(ch).unwrap();
    assert_eq!(thread::join(sender), Ok(1));
    assert_eq!(sync::recv(ch, None), Ok(10));
    assert_eq!(sync::recv(ch, None), Err(Errno(libc::EPIPE)));

    // Freed while waited on: EBADF; a killed sender's item is not delivered.
    let ch = sync::channel_new(Capacity::Rendezvous).unwrap();
    let killed =
        thread::spawn(move || i32::from(sync::send(ch, 1, None) == Err(Errno(libc::ECANCELED))))
            .unwrap();
    thread::yield_now().unwrap();
    thread::kill(killed).unwrap();
    assert_eq!(thread::join(killed), Ok(1));
    assert_eq!(sync::try_recv(ch), Err(Errno(libc::EAGAIN)));
    let waiting =
        thread::spawn(move || i32::from(sync::recv(ch, None) == Err(Errno(libc::EBADF)))).unwrap();
    thread::yield_now().unwrap();
    sync::channel_free(ch).unwrap();
    assert_eq!(thread::join(waiting), Ok(1));
}

#[test]
fn unbounded_channel_never_blocks_a_sender() {
    let ch = sync::channel_new(Capacity::Unbounded).unwrap();
    for i in 0..10_000 {
        sync::try_send(ch, i).unwrap();
    }
    assert_eq!(sync::channel_stat(ch), Ok((10_000, 0, 0)));
    for i in 0..10_000 {
        assert_eq!(sync::try_recv(ch), Ok(i));
    }
}

#[test]
fn park_and_unpark() {
    let t = thread::spawn(|| sync::park().unwrap() as i32).unwrap();
    thread::yield_now().unwrap();
    sync::unpark(t, 5).unwrap();
    assert_eq!(thread::join(t), Ok(5));

    // An unpark that comes first is kept for the next park.
    let early = thread::spawn(|| {
        thread::sleep(Duration::from_millis(5)).unwrap(); // not parked: unpark must not end this
        sync::park().unwrap() as i32
    })
    .unwrap();
    thread::yield_now().unwrap();
    sync::unpark(early, 8).unwrap();
    assert_eq!(thread::join(early), Ok(8));
    assert_eq!(sync::unpark(early, 1), Err(Errno(libc::EBADF)));

    thread::deadline_push(Some(Duration::from_millis(10))).unwrap();
    assert_eq!(sync::park(), Err(Errno(libc::ETIMEDOUT)));
    thread::deadline_pop().unwrap();
}

#[test]
fn a_pool_never_exceeds_its_limit() {
    let p = pool::new(3).unwrap();
    let running = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    for _ in 0..10 {
        let (running, peak) = (running.clone(), peak.clone());
        let opts = SpawnOptions {
            detached: true,
            ..Default::default()
        };
        pool::spawn(p, opts, move || {
            running.set(running.get() + 1);
            peak.set(peak.get().max(running.get()));
            thread::sleep(Duration::from_millis(5)).unwrap();
            running.set(running.get() - 1);
            0
        })
        .unwrap();
        assert!(pool::stat(p).unwrap().1 <= 3);
    }
    pool::wait(p).unwrap();
    assert_eq!(peak.get(), 3);
    assert_eq!(pool::stat(p), Ok((3, 0, 0)));
    pool::resize(p, 5).unwrap();
    assert_eq!(pool::stat(p).unwrap().0, 5);
    pool::free(p).unwrap();
    assert_eq!(pool::new(0), Err(Errno(libc::EINVAL)));
}

#[test]
fn serve_runs_handlers_and_stops_on_request() {
    let listener = net::listen(Some("127.0.0.1"), 0, 16).unwrap();
    let port = net::local_addr(listener).unwrap().port();
    let client = thread::spawn(move || {
        for line in ["one\n", "two\n", "stop\n"] {
            let c = net::connect("127.0.0.1", port).unwrap();
            net::sendall(c, line.as_bytes()).unwrap();
            let mut buf = [0u8; 16];
            let n = net::read_until(c, b"\n", &mut buf).unwrap();
            assert_eq!(&buf[..n], line.as_bytes());
            // The handler's socket is closed when it returns.
            assert_eq!(net::recv(c, &mut buf), Ok(0));
            net::close(c).unwrap();
        }
        0
    })
    .unwrap();
    let served = Rc::new(Cell::new(0));
    let s = served.clone();
    pool::serve(listener, 2, move |sock| {
        let mut buf = [0u8; 16];
        let n = net::read_until(sock, b"\n", &mut buf).unwrap();
        net::sendall(sock, &buf[..n]).unwrap();
        s.set(s.get() + 1);
        if &buf[..n] == b"stop\n" {
            pool::SERVE_STOP
        } else {
            0
        }
    })
    .unwrap();
    assert_eq!(thread::join(client), Ok(0));
    assert_eq!(served.get(), 3);
}

#[test]
fn tpool_calls_run_in_parallel_while_the_hub_serves() {
    tpool::set_size(4).unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = thread::spawn(move || {
        while thread::sleep(Duration::from_millis(10)).is_ok() {
            t.set(t.get() + 1);
        }
        0
    })
    .unwrap();
    let start = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                tpool::execute(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    i * 10
                })
                .unwrap()
            })
            .unwrap()
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(thread::join(c), Ok(i as i32 * 10));
    }
    let took = start.elapsed();
    assert!(took < Duration::from_millis(600), "not parallel: {took:?}");
    assert!(ticks.get() >= 5, "the hub stalled: {} ticks", ticks.get());
    thread::kill(ticker).unwrap();
    thread::join(ticker).unwrap();

    // A deadline ends the wait; the call itself finishes on its worker.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    thread::deadline_push(Some(Duration::from_millis(50))).unwrap();
    let r = tpool::execute(move || {
        std::thread::sleep(Duration::from_millis(150));
        d.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    thread::deadline_pop().unwrap();
    assert_eq!(r, Err(Errno(libc::ETIMEDOUT)));
    assert!(!done.load(std::sync::atomic::Ordering::SeqCst));
    thread::sleep(Duration::from_millis(300)).unwrap();
    assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(tpool::set_size(0), Err(Errno(libc::EINVAL)));
}
