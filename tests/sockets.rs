//! Green sockets through the Rust API, over 127.0.0.1: transfer, readline, timeouts, EBADF,
//! EBUSY, close while waiting, and ownership cleanup when a thread ends.

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenhub::net;
use greenhub::thread::{self, SpawnOptions};
use greenhub::Errno;

/// A listener on an ephemeral port and a connected pair (client, server side).
fn pair() -> (u64, u64, u64) {
    let listener = net::listen(Some("127.0.0.1"), 0, 16).unwrap();
    let port = net::local_addr(listener).unwrap().port();
    let client = Rc::new(RefCell::new(0));
    let c = client.clone();
    let t = thread::spawn(move || {
        *c.borrow_mut() = net::connect("127.0.0.1", port).unwrap();
        // The connecting thread owns the socket; give it to the root so it outlives the thread.
        net::give(*c.borrow(), 0).unwrap();
        0
    })
    .unwrap();
    let (server, peer) = net::accept(listener).unwrap();
    assert_eq!(thread::join(t), Ok(0));
    let client = *client.borrow();
    assert_eq!(Some(net::local_addr(client).unwrap()), peer);
    (listener, client, server)
}

fn recv_exact(sock: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = net::recv(sock, &mut out[got..]).unwrap();
        assert!(k > 0, "early end of stream");
        got += k;
    }
    out
}

#[test]
fn send_recv_and_end_of_stream() {
    let (_l, client, server) = pair();
    net::sendall(client, b"hello").unwrap();
    assert_eq!(recv_exact(server, 5), b"hello");
    net::close(client).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(net::recv(server, &mut buf), Ok(0));
}

#[test]
fn large_sendall_while_the_peer_reads_in_another_thread() {
    let (_l, client, server) = pair();
    let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let expect = data.clone();
    let reader =
        thread::spawn(move || i32::from(recv_exact(server, expect.len()) == expect)).unwrap();
    net::sendall(client, &data).unwrap();
    assert_eq!(thread::join(reader), Ok(1));
}

#[test]
fn readline_pieces_eof_and_buffered_recv() {
    let (_l, client, server) = pair();
    net::sendall(client, b"ab\ncdefghij\nrest\r\nx").unwrap();
    net::shutdown(client, libc::SHUT_WR).unwrap();
    let mut buf = [0u8; 4];
    let mut read = |sock| {
        let n = net::read_until(sock, b"\n", &mut buf).unwrap();
        buf[..n].to_vec()
    };
    assert_eq!(read(server), b"ab\n");
    assert_eq!(read(server), b"cdef", "a long line comes in pieces");
    assert_eq!(read(server), b"ghij");
    assert_eq!(read(server), b"\n");
    let mut big = [0u8; 64];
    let n = net::read_until(server, b"\r\n", &mut big).unwrap();
    assert_eq!(&big[..n], b"rest\r\n");
    // recv hands out what readline buffered first; then end of stream.
    assert_eq!(net::recv(server, &mut big), Ok(1));
    assert_eq!(big[0], b'x');
    assert_eq!(net::read_until(server, b"\n", &mut big), Ok(0));
    assert_eq!(
        net::read_until(server, b"", &mut big),
        Err(Errno(libc::EINVAL))
    );
}

#[test]
fn socket_timeouts() {
    let (_l, _client, server) = pair();
    let mut buf = [0u8; 4];
    net::set_timeout(server, Some(Duration::ZERO)).unwrap();
    assert_eq!(net::recv(server, &mut buf), Err(Errno(libc::EAGAIN)));
    net::set_timeout(server, Some(Duration::from_millis(30))).unwrap();
    assert_eq!(net::timeout(server), Ok(Some(Duration::from_millis(30))));
    let start = Instant::now();
    assert_eq!(net::recv(server, &mut buf), Err(Errno(libc::ETIMEDOUT)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn closed_and_foreign_handles_are_ebadf() {
    let (listener, client, server) = pair();
    net::close(client).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(net::recv(client, &mut buf), Err(Errno(libc::EBADF)));
    assert_eq!(net::send(client, b"x"), Err(Errno(libc::EBADF)));
    assert_eq!(net::close(client), Err(Errno(libc::EBADF)));
    assert_eq!(net::fileno(client), Err(Errno(libc::EBADF)));
    assert_eq!(net::recv(0, &mut buf), Err(Errno(libc::EBADF)));
    let t = thread::spawn(|| 0).unwrap();
    assert_eq!(
        net::recv(t, &mut buf),
        Err(Errno(libc::EBADF)),
        "a thread id is no socket"
    );
    thread::join(t).unwrap();
    // Handles of another OS thread's hub are not valid here.
    let foreign = std::thread::spawn(move || net::fileno(server))
        .join()
        .unwrap();
    assert_eq!(foreign, Err(Errno(libc::EBADF)));
    assert!(net::fileno(listener).is_ok());
}

#[test]
fn a_second_reader_gets_ebusy_and_the_first_still_reads() {
    let (_l, client, server) = pair();
    let first = thread::spawn(move || {
        let mut buf = [0u8; 8];
        i32::try_from(net::recv(server, &mut buf).unwrap()).unwrap()
    })
    .unwrap();
    let second = thread::spawn(move || {
        let mut buf = [0u8; 8];
        match net::recv(server, &mut buf) {
            Err(Errno(libc::EBUSY)) => 1,
            _ => 0,
        }
    })
    .unwrap();
    assert_eq!(thread::join(second), Ok(1));
    net::sendall(client, b"abc").unwrap();
    assert_eq!(thread::join(first), Ok(3));
}

#[test]
fn close_wakes_a_blocked_reader_with_ebadf() {
    let (_l, _client, server) = pair();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 8];
        match net::recv(server, &mut buf) {
            Err(Errno(libc::EBADF)) => 1,
            _ => 0,
        }
    })
    .unwrap();
    thread::yield_now().unwrap();
    net::close(server).unwrap();
    assert_eq!(thread::join(reader), Ok(1));
}

#[test]
fn sockets_of_an_ended_thread_are_closed() {
    let (_l, client, server) = pair();
    // Handed over at spawn, never closed by the thread: the hub closes it when it returns.
    let opts = SpawnOptions {
        socket: Some(server),
        ..Default::default()
    };
    let t = thread::spawn_with(opts, || 3).unwrap();
    assert_eq!(thread::join(t), Ok(3));
    assert_eq!(net::fileno(server), Err(Errno(libc::EBADF)));
    let mut buf = [0u8; 4];
    assert_eq!(
        net::recv(client, &mut buf),
        Ok(0),
        "the peer sees end of stream"
    );

    // A killed thread's own sockets are closed too.
    let made = Rc::new(RefCell::new(0));
    let m = made.clone();
    let victim = thread::spawn(move || {
        *m.borrow_mut() = net::listen(Some("127.0.0.1"), 0, 4).unwrap();
        let _ = thread::sleep(Duration::from_secs(10));
        0
    })
    .unwrap();
    thread::yield_now().unwrap();
    let listener = *made.borrow();
    assert!(net::fileno(listener).is_ok());
    thread::kill(victim).unwrap();
    thread::join(victim).unwrap();
    assert_eq!(net::fileno(listener), Err(Errno(libc::EBADF)));
}

#[test]
fn connect_errors() {
    let l = net::listen(Some("127.0.0.1"), 0, 1).unwrap();
    let port = net::local_addr(l).unwrap().port();
    net::close(l).unwrap();
    assert_eq!(
        net::connect("127.0.0.1", port).err(),
        Some(Errno(libc::ECONNREFUSED))
    );
    let l = net::listen(Some("localhost"), 0, 1).unwrap();
    let port = net::local_addr(l).unwrap().port();
    let c = net::connect("localhost", port).unwrap();
    assert!(net::peer_addr(c).unwrap().ip().is_loopback());
    thread::deadline_push(Some(Duration::from_secs(5))).unwrap();
    // A name that does not resolve has an errno of its own (.invalid never resolves; without a
    // name server the resolver may say "try again" instead, EAGAIN, or outlive the deadline).
    let unresolved = net::connect("no-such-host.invalid", 1).err();
    assert!(
        [libc::ENXIO, libc::EAGAIN, libc::ETIMEDOUT].contains(&unresolved.unwrap().0),
        "{unresolved:?}"
    );
    if unresolved != Some(Errno(libc::ETIMEDOUT)) {
        assert_eq!(
            net::listen(Some("no-such-host.invalid"), 0, 1).err(),
            unresolved
        );
    }
    thread::deadline_pop().unwrap();
    let taken = net::listen(Some("127.0.0.1"), 0, 1).unwrap();
    let port = net::local_addr(taken).unwrap().port();
    assert_eq!(
        net::listen(Some("127.0.0.1"), port, 1).err(),
        Some(Errno(libc::EADDRINUSE))
    );
}

#[test]
fn sendfile_sends_the_file_range() {
    let (_l, client, server) = pair();
    let mut file = std::fs::File::from(tempfile());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    file.write_all(&data).unwrap();
    let fd = file.as_raw_fd();
    let reader =
        thread::spawn(move || i32::from(recv_exact(client, 99_990) == data[10..])).unwrap();
    assert_eq!(greenhub::fs::sendfile(server, fd, 10, 1 << 20), Ok(99_990));
    assert_eq!(thread::join(reader), Ok(1));
}

fn tempfile() -> std::os::fd::OwnedFd {
    let path = std::env::temp_dir().join(format!("greenhub-test-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f.into()
}

#[test]
fn ipv6_loopback_when_available() {
    match net::listen(Some("::1"), 0, 4) {
        Ok(l) => {
            let port = net::local_addr(l).unwrap().port();
            let t = thread::spawn(move || {
                let c = net::connect("::1", port).unwrap();
                net::sendall(c, b"v6").map_or(1, |()| 0)
            })
            .unwrap();
            let (s, peer) = net::accept(l).unwrap();
            assert!(peer.unwrap().is_ipv6());
            assert_eq!(recv_exact(s, 2), b"v6");
            assert_eq!(thread::join(t), Ok(0));
        }
        Err(e) => assert!(
            [libc::EADDRNOTAVAIL, libc::EAFNOSUPPORT].contains(&e.0),
            "unexpected {e:?}"
        ),
    }
}

/// More buffers than one sendmsg(2) takes (IOV_MAX, 1024): a full send of the first 1024 is
/// not a short write (the socket has room; taking it for full waited for an edge that never
/// came).
#[test]
fn sendall_vectored_more_buffers_than_iov_max() {
    let (_listener, client, server) = pair();
    net::set_timeout(client, Some(Duration::from_secs(1))).unwrap();
    let data = vec![b'x'; 2000];
    let mut bufs: Vec<std::io::IoSlice<'_>> = data.chunks(1).map(std::io::IoSlice::new).collect();
    assert_eq!(net::sendall_vectored(client, &mut bufs, false), Ok(()));
    assert_eq!(recv_exact(server, 2000), data);
}
