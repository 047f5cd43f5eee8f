//! ns per resume + yield pair of one `generator` coroutine, the same calls greenhub's
//! coroutine module makes (`Gn::new_opt`, `yield_`, `raw_send`), without the hub around them.
use std::time::Instant;

use generator::Gn;

fn main() {
    let n = 10_000_000u32;
    #[allow(deprecated)] // the calls greenhub uses; the scoped ones need the body's `Scope`
    let mut gen = Gn::<u32>::new_opt(16 * 1024, || -> u32 {
        loop {
            generator::yield_::<u32, u32>(0);
        }
    });
    for _ in 0..1000 {
        gen.raw_send(Some(0)); // warm-up
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..n {
            gen.raw_send(Some(i));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    println!("{{\"bench\":\"generator_pair\",\"pairs\":{n},\"ns_per_pair_min_of_5\":{best:.2}}}");
}
