//! Finished stacks are pooled: once warm, spawning and ending threads maps no new memory.
//! Alone in its own test binary, so no other test maps memory meanwhile.

use std::time::Duration;

use greenhub::thread;

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Spawns `n` threads, counts the mappings while they all live, then joins them.
fn round(n: usize) -> usize {
    let ids: Vec<_> = (0..n)
        .map(|_| {
            thread::spawn(|| {
                thread::sleep(Duration::from_millis(1)).unwrap();
                0
            })
            .unwrap()
        })
        .collect();
    thread::yield_now().unwrap(); // every thread is now alive, asleep on its own stack
    let live = mappings();
    for id in ids {
        assert_eq!(thread::join(id), Ok(0));
    }
    live
}

#[test]
fn steady_state_spawns_map_no_memory() {
    round(500); // warm: 500 stacks mapped, then pooled
    let pooled = mappings();
    for _ in 0..5 {
        let live = round(500);
        // 500 fresh stacks would add about 1000 mappings (stack + guard page each).
        assert!(live <= pooled + 4, "mappings grew from {pooled} to {live}");
    }
}
