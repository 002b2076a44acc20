//! Web3 Analytics' work in a worker: taking in a visitor's sealed page view (open, decode,
//! check, verify the visitor's signature, queue), applying a chain-ordered batch on a member,
//! and answering analyses over 1,000,000 stored page views. Prints the sealed state's bytes
//! per stored page view once.
//!
//! `cargo bench -p phala-worker-core --bench analytics`.

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use phala_crypto::keys::Seed;
use phala_crypto::{Envelope, Purpose};
use phala_keys::Ed25519Pair;
use phala_mq::analytics::{AnalyticsCommand, SiteConfig, VisitorKey};
use phala_mq::analytics_api::{Analysis, Consent, Days, Device, Ingest, IngestItem, PageView};
use phala_primitives::{AccountId32, H256};
use phala_worker_core::analytics::ingest::{DeskKeys, IngestDesk};
use phala_worker_core::analytics::{
    AnalyticsState, BatchBody, DAY_MS, SiteData, StoredView, VisitorRecord, report, service_secret,
};
use phala_worker_core::gatekeeper::ClusterKey;

const GENESIS: H256 = H256([7; 32]);
const DAY: u64 = 20_000;
const NOW: u64 = DAY * DAY_MS + 12 * 3_600_000;

fn cluster() -> ClusterKey {
    ClusterKey {
        cluster: H256([3; 32]),
        seed: Seed::from_bytes([9; 32]),
        members: 1,
    }
}

fn config() -> SiteConfig {
    SiteConfig {
        retention_days: 30,
        purposes: 63,
        min_cohort: 5,
        dp: None,
    }
}

fn visitor(i: u32) -> Ed25519Pair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    Ed25519Pair::from_seed(&seed)
}

fn signed(pair: &Ed25519Pair, item: IngestItem) -> Ingest {
    let mut ingest = Ingest {
        site: 1,
        visitor: VisitorKey::Ed25519(pair.public()),
        item,
        signature: [0; 64],
    };
    ingest.signature = pair.sign(&ingest.signing_payload(&GENESIS));
    ingest
}

fn view(i: u32, at_ms: u64) -> PageView {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&i.to_le_bytes());
    id[4..12].copy_from_slice(&at_ms.to_le_bytes());
    PageView {
        id,
        at_ms,
        path: format!("/blog/post-{}", i % 40).into_bytes(),
        referrer: b"news.example".to_vec(),
        device: Device::Desktop,
        screen: 4,
    }
}

fn source(n: u32) -> phala_crypto::query::Source {
    phala_crypto::query::Source::from(std::net::IpAddr::V4(std::net::Ipv4Addr::from(n)))
}

fn desk() -> IngestDesk {
    let desk = IngestDesk::default();
    let service = service_secret(&cluster());
    desk.set_keys(Some(DeskKeys {
        genesis: GENESIS,
        service_public: service.public(),
        service,
        sites: [(1, b"shop.example".to_vec())].into(),
        head: 10,
    }));
    desk
}

/// 1,000,000 page views: 10,000 visitors, 100 each over 30 days.
fn big_site() -> SiteData {
    let mut visitors = BTreeMap::new();
    for v in 0..10_000u32 {
        let pair = visitor(v);
        let views = (0..100u32)
            .map(|n| StoredView {
                id: {
                    let mut id = [0u8; 16];
                    id[..4].copy_from_slice(&v.to_le_bytes());
                    id[4..8].copy_from_slice(&n.to_le_bytes());
                    id
                },
                at_ms: (DAY - 29) * DAY_MS + u64::from(n) * (30 * DAY_MS / 100) + u64::from(v),
                path: format!("/blog/post-{}", (v + n) % 40).into_bytes(),
                referrer: if n % 3 == 0 {
                    b"news.example".to_vec()
                } else {
                    Vec::new()
                },
                device: if v % 4 == 0 {
                    Device::Mobile
                } else {
                    Device::Desktop
                },
                screen: (v % 5) as u8,
            })
            .collect();
        visitors.insert(
            VisitorKey::Ed25519(pair.public()),
            Arc::new(VisitorRecord {
                consent: Some((
                    Consent {
                        purposes: 63,
                        expires_ms: NOW + 300 * DAY_MS,
                        signed_ms: 0,
                        block: 1,
                    },
                    [0; 64],
                )),
                views,
            }),
        );
    }
    SiteData {
        owner: AccountId32([1; 32]),
        domain: b"shop.example".to_vec(),
        config: config(),
        analysts: BTreeMap::new(),
        next_batch: 0,
        visitors,
        withdrawn: BTreeMap::new(),
        pruned_hour: 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = commonware_utils::test_rng();
    let service_public = service_secret(&cluster()).public();

    // Ingest: 1,000 distinct sealed page views from 1,000 sources.
    let sealed: Vec<Vec<u8>> = (0..1_000u32)
        .map(|i| {
            let ingest = signed(&visitor(i), IngestItem::PageView(view(i, NOW)));
            Envelope::seal(
                &mut rng,
                &service_public,
                Purpose::Ingest,
                None,
                &ingest.encode(),
            )
            .unwrap()
            .encode()
        })
        .collect();
    let mut group = c.benchmark_group("analytics/ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(sealed.len() as u64));
    group.bench_function("accept 1000 sealed page views", |b| {
        b.iter_batched(
            desk,
            |desk| {
                for (i, body) in sealed.iter().enumerate() {
                    desk.accept(body, None, source(i as u32), NOW).unwrap();
                }
                desk
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // A member applies a batch of 200 page views from 200 consented visitors.
    let mut state = AnalyticsState::default();
    let secret = service_secret(&cluster());
    state.apply(
        AnalyticsCommand::SiteConfigured {
            site: 1,
            owner: AccountId32([1; 32]),
            domain: b"shop.example".to_vec(),
            config: config(),
        },
        &secret,
        NOW,
    );
    let consents: Vec<Ingest> = (0..200u32)
        .map(|i| {
            signed(
                &visitor(i),
                IngestItem::Consent(Consent {
                    purposes: 63,
                    expires_ms: NOW + DAY_MS,
                    signed_ms: NOW,
                    block: 5,
                }),
            )
        })
        .collect();
    let seal = |items: Vec<Ingest>, rng: &mut commonware_utils::TestRng| {
        Envelope::seal(
            rng,
            &service_public,
            Purpose::AnalyticsBatch,
            None,
            &BatchBody { items }.encode(),
        )
        .unwrap()
    };
    let sealed_consents = seal(consents, &mut rng);
    state.apply(
        AnalyticsCommand::Batch {
            site: 1,
            id: 0,
            from: [0; 32],
            events: 200,
            sealed: sealed_consents,
        },
        &secret,
        NOW,
    );
    let views: Vec<Ingest> = (0..200u32)
        .map(|i| signed(&visitor(i), IngestItem::PageView(view(i, NOW + 1))))
        .collect();
    let batch = seal(views, &mut rng);
    let mut group = c.benchmark_group("analytics/apply");
    group.throughput(Throughput::Elements(200));
    group.bench_function("batch of 200 page views", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                s.apply(
                    AnalyticsCommand::Batch {
                        site: 1,
                        id: 1,
                        from: [0; 32],
                        events: 200,
                        sealed: batch.clone(),
                    },
                    &secret,
                    NOW + 2,
                );
                s
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // Analyses over 1,000,000 stored page views.
    let site = big_site();
    let stored = site.view_count();
    let bytes = site.encode().len();
    eprintln!(
        "analytics: {stored} page views of 10,000 visitors seal to {bytes} bytes: {:.1} bytes \
         per page view",
        bytes as f64 / stored as f64
    );
    let ledger = Default::default();
    let owner = AccountId32([1; 32]);
    let mut group = c.benchmark_group("analytics/analyse 1M page views");
    group.sample_size(10);
    for (name, analysis) in [
        ("realtime", Analysis::Realtime),
        (
            "traffic 30 days",
            Analysis::Traffic {
                days: Days {
                    from_day: (DAY - 29) as u32,
                    days: 30,
                },
                hourly: false,
            },
        ),
        (
            "traffic hourly 1 day",
            Analysis::Traffic {
                days: Days {
                    from_day: DAY as u32,
                    days: 1,
                },
                hourly: true,
            },
        ),
        (
            "pages 7 days",
            Analysis::Pages {
                days: Days {
                    from_day: (DAY - 6) as u32,
                    days: 7,
                },
            },
        ),
        (
            "engagement 7 days",
            Analysis::Engagement {
                days: Days {
                    from_day: (DAY - 6) as u32,
                    days: 7,
                },
            },
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                report::analyse(&mut rng, 1, &site, &owner, analysis, NOW, &ledger, 1).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
