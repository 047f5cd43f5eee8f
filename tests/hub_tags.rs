//! Hub identity is unique for the life of the process: every OS thread that uses greenhub gets
//! a hub with a tag no other hub ever had, so a handle of one hub is refused (EBADF) by every
//! other, including hubs created long after. When the tags are used up, creating a hub fails
//! with EMFILE and every call on that OS thread fails with it.
//!
//! Its own test binary: hub tags are process-wide and this test uses them all up.

use std::time::{Duration, Instant};

use greenhub::{sync, thread, Errno};

/// What one short-lived OS thread saw.
enum Seen {
    /// It got a hub and a handle of its own; our handle was refused as it should be.
    Hub(u64),
    /// No hub: the errors of several different calls.
    NoHub(Vec<Errno>),
    /// Our handle worked on another hub.
    Accepted,
}

fn visit(ours: u64) -> Seen {
    std::thread::spawn(move || match sync::semaphore_new(0) {
        Ok(own) => match sync::semaphore_stat(ours) {
            Err(Errno(libc::EBADF)) => Seen::Hub(own),
            _ => Seen::Accepted,
        },
        Err(first) => {
            let mut errors = vec![first];
            errors.push(sync::semaphore_stat(ours).unwrap_err());
            errors.push(thread::sleep(Duration::from_millis(1)).unwrap_err());
            errors.push(thread::spawn(|| 0).unwrap_err());
            errors.push(sync::semaphore_new(0).unwrap_err());
            Seen::NoHub(errors)
        }
    })
    .join()
    .expect("the visiting thread does not panic")
}

#[test]
fn hub_tags_are_never_reused_and_run_out_with_emfile() {
    let started = Instant::now();
    let ours = sync::semaphore_new(1).expect("our hub");
    let hub_of = |h: u64| (h >> 48) & 0xfff;
    let mut tags = vec![hub_of(ours)];
    let mut refusals = 0;
    // Bounded: far more threads than there are tags, and a time limit, so a regression that
    // keeps creating hubs fails instead of running on.
    for n in 1..=6000 {
        assert!(started.elapsed() < Duration::from_secs(60), "took too long");
        match visit(ours) {
            Seen::Accepted => panic!(
                "hub number {} accepted our handle {ours:#x} (its tag was reused)",
                n + 1
            ),
            Seen::Hub(own) => {
                assert_eq!(refusals, 0, "a hub was created after one was refused");
                let tag = hub_of(own);
                assert!(!tags.contains(&tag), "tag {tag} given to a second hub");
                tags.push(tag);
            }
            Seen::NoHub(errors) => {
                assert!(
                    errors.iter().all(|&e| e == Errno(libc::EMFILE)),
                    "a thread without a hub saw {errors:?}, want EMFILE from every call"
                );
                refusals += 1;
                if refusals == 20 {
                    break;
                }
            }
        }
    }
    assert_eq!(
        refusals, 20,
        "hub creation never failed: tags must have wrapped"
    );
    assert_eq!(tags.len(), 4095, "hubs created before the tags ran out");
    // Our hub and handle are unaffected.
    assert_eq!(sync::semaphore_stat(ours), Ok((1, 0)));
}
