//! The arithmetic a gatekeeper does per settled worker and per block.

use criterion::{Criterion, criterion_group, criterion_main};
use phala_tokenomics::{Challenge, Economics, Fixed, Params, online_target, share};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let p = Params::from_economics(&Economics::default(), 1000).unwrap();
    let v = Fixed::from_num(6593);
    c.bench_function("idle_step", |b| {
        b.iter(|| p.idle_step(black_box(v), 2000, 2000).unwrap())
    });
    c.bench_function("1800 idle steps (half an hour at 1 s)", |b| {
        b.iter(|| {
            let mut v = black_box(v);
            for _ in 0..1800 {
                v = p.idle_step(v, 2000, 2000).unwrap();
            }
            v
        })
    });
    c.bench_function("slash_step", |b| {
        b.iter(|| p.slash_step(black_box(v)).unwrap())
    });
    c.bench_function("share", |b| {
        b.iter(|| share(black_box(v), 2000, p.conf_of(1)).unwrap())
    });
    let challenge = Challenge {
        seed: [7; 32],
        target: online_target(&p, 100_000),
    };
    c.bench_function("challenge picks", |b| {
        b.iter(|| challenge.picks(black_box(&[9; 32])))
    });
    c.bench_function("challenge ranges", |b| {
        b.iter(|| black_box(&challenge).ranges())
    });
    c.bench_function("params from economics (1 s blocks)", |b| {
        b.iter(|| Params::from_economics(black_box(&Economics::default()), 1000).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
