//! Cost of verifying one genuine DCAP quote (the chain does this per registration).
//! Goal: under 5 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use phala_attestation::{Attestation, Collateral, Policy, verify};

fn load(name: &str) -> Attestation {
    let dir = phala_attestation::fixtures_dir();
    let quote = std::fs::read(dir.join(name)).expect("quote fixture");
    let json = std::fs::read(dir.join(format!("{name}_collateral.json"))).expect("collateral");
    Attestation::Dcap {
        quote,
        collateral: Box::new(Collateral::from_json(&json).expect("collateral parses")),
    }
}

fn bench(c: &mut Criterion) {
    let policy = Policy::production();
    let sgx = load("sgx_quote");
    c.bench_function("verify sgx quote", |b| {
        b.iter(|| verify(&sgx, 1_752_919_277, &policy).expect("valid"))
    });
    let tdx = load("tdx_quote");
    c.bench_function("verify tdx quote", |b| {
        b.iter(|| verify(&tdx, 1_752_919_234, &policy).expect("valid"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
