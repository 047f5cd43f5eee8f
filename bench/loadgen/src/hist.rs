//! The latency histogram.

/// Log-linear latency histogram in microseconds: exact below 2048 µs, then 1024 sub-buckets
/// per power of two (< 0.1% error).
pub(crate) struct Hist {
    pub(crate) b: Vec<u64>,
    pub(crate) n: u64,
    pub(crate) sum: u128,
    pub(crate) max: u64,
}

impl Hist {
    pub(crate) fn new() -> Hist {
        Hist {
            b: vec![0; 2048 + 40 * 1024],
            n: 0,
            sum: 0,
            max: 0,
        }
    }
    pub(crate) fn idx(us: u64) -> usize {
        let us = us.min((1u64 << 50) - 1);
        if us < 2048 {
            return us as usize;
        }
        let p = 63 - us.leading_zeros() as u64; // >= 11
        let sub = (us >> (p - 10)) & 1023;
        (2048 + (p - 11) * 1024 + sub) as usize
    }
    pub(crate) fn value(i: usize) -> u64 {
        if i < 2048 {
            return i as u64;
        }
        let p = 11 + ((i - 2048) / 1024) as u64;
        let sub = ((i - 2048) % 1024) as u64;
        let width = 1u64 << (p - 10);
        ((1024 + sub) << (p - 10)) + width / 2
    }
    pub(crate) fn add(&mut self, us: u64) {
        self.b[Self::idx(us)] += 1;
        self.n += 1;
        self.sum += us as u128;
        self.max = self.max.max(us);
    }
    pub(crate) fn pct(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let target = ((q * self.n as f64).ceil() as u64).max(1);
        let mut c = 0;
        for (i, &k) in self.b.iter().enumerate() {
            c += k;
            if c >= target {
                return Self::value(i);
            }
        }
        self.max
    }
}
