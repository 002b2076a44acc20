//! The registration benchmark: how much work this worker does in a fixed window.
//!
//! One iteration hashes 1 MiB with blake2 (about a millisecond on a current core), so a
//! fast machine reaches the 6000 cap in 6 s and the score spreads slower machines apart
//! below it. The score is a claim by the TEE, checked later by the work the
//! worker actually does; it only seeds the performance figure.

use std::time::{Duration, Instant};

use phala_mq::topics::MAX_SCORE;

/// Iterations completed in `window`, at most [`MAX_SCORE`].
pub fn run(window: Duration) -> u32 {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let mut iterations: u32 = 0;
    while start.elapsed() < window && iterations < MAX_SCORE {
        for _ in 0..256 {
            let h = phala_primitives::hashing::blake2_256(&buf);
            if let Some(head) = buf.get_mut(..32) {
                head.copy_from_slice(&h);
            }
        }
        iterations = iterations.saturating_add(1);
    }
    std::hint::black_box(buf);
    iterations
}
