//! The envelope's cost against its parts: one X25519 agreement and AES-256-GCM.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use phala_crypto::{EcdhSecret, Envelope, Purpose};

fn envelope(c: &mut Criterion) {
    let recipient = EcdhSecret::from_bytes([2; 32]);
    let public = recipient.public();
    let mut rng = commonware_utils::test_rng();

    let mut group = c.benchmark_group("x25519");
    let secret = x25519_dalek::StaticSecret::from([3; 32]);
    let peer = x25519_dalek::PublicKey::from(public);
    group.bench_function("one agreement", |b| b.iter(|| secret.diffie_hellman(&peer)));
    group.bench_function("one public key", |b| {
        b.iter(|| x25519_dalek::PublicKey::from(&secret))
    });
    group.finish();

    let mut group = c.benchmark_group("envelope");
    for size in [0usize, 1024, 64 * 1024] {
        let plaintext = vec![7u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, p| {
            b.iter(|| Envelope::seal(&mut rng, &public, Purpose::Query, None, p).unwrap())
        });
        let sealed = Envelope::seal(&mut rng, &public, Purpose::Query, None, &plaintext).unwrap();
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, e| {
            b.iter(|| e.open(&recipient).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("aes-256-gcm");
    let cipher = Aes256Gcm::new_from_slice(&[9; 32]).unwrap();
    for size in [1024usize, 64 * 1024] {
        let plaintext = vec![7u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &plaintext, |b, p| {
            b.iter(|| {
                cipher
                    .encrypt(Nonce::from_slice(&[1; 12]), p.as_slice())
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
