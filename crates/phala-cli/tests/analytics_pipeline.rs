//! Web3 Analytics end to end on a real `phala devnet --workers 2` (both workers in one
//! cluster): visitors (the SDK's, as the tracker does it) consent per purpose or decline,
//! send sealed page views to either member, and the owner's signed analyses on both members
//! count exactly the authorized visitors; a visitor reads their own data and withdraws on
//! chain through a worker, fee-free, and every member erases them; the devnet is killed
//! during ingestion and every event a worker acknowledged as durable is counted after the
//! restart, alike on both members; no page path or visitor key is left in plaintext on disk,
//! in the log or on chain.

mod common;

use std::time::{Duration, Instant};

use common::net::{Net, port_of, tail};
use phala_client::Client;
use phala_client::analytics_worker::{Visitor, seal_ingest};
use phala_client::worker::WorkerApi;
use phala_keys::Sr25519Pair;
use phala_mq::analytics_api::{Analysis, AnalyticsQuery, AnswerBody, Days, Device, PageView};
use phala_primitives::H256;
use phala_runtime::modules::analytics::purpose;

const DAY_MS: u64 = 86_400_000;
/// A path that appears nowhere else: finding its bytes means finding a page view in the clear.
const SECRET_PATH: &str = "/pricing-7f3a9c1e";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn two_days() -> Days {
    let today = (now_ms() / DAY_MS) as u32;
    Days {
        from_day: today - 1,
        days: 2,
    }
}

fn view(path: &str) -> PageView {
    let mut id = [0u8; 16];
    id.copy_from_slice(&rand_id());
    PageView {
        id,
        at_ms: now_ms(),
        path: path.as_bytes().to_vec(),
        referrer: b"news.example".to_vec(),
        device: Device::Mobile,
        screen: 0,
    }
}

fn rand_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    let n = now_ms().to_le_bytes();
    id[..8].copy_from_slice(&n);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let c = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    id[8..].copy_from_slice(&c.to_le_bytes());
    id
}

/// (page views, visitors) summed over the shown days.
async fn traffic(worker: &WorkerApi, client: &Client, owner: &Sr25519Pair) -> (u64, u64) {
    let (_, answer) = worker
        .analyse(
            client,
            owner,
            AnalyticsQuery {
                site: 0,
                analysis: Analysis::Traffic {
                    days: two_days(),
                    hourly: false,
                },
            },
        )
        .await
        .unwrap();
    match answer.body {
        AnswerBody::Traffic { rows } => rows.iter().fold((0, 0), |(v, u), r| {
            (v + r.1.unwrap_or(0), u + r.2.unwrap_or(0))
        }),
        other => panic!("{other:?}"),
    }
}

async fn pages(worker: &WorkerApi, client: &Client, owner: &Sr25519Pair) -> Vec<(String, u64)> {
    let (_, answer) = worker
        .analyse(
            client,
            owner,
            AnalyticsQuery {
                site: 0,
                analysis: Analysis::Pages { days: two_days() },
            },
        )
        .await
        .unwrap();
    match answer.body {
        AnswerBody::Top { rows } => rows
            .into_iter()
            .map(|(k, v, _)| (String::from_utf8(k).unwrap(), v))
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Waits (bounded) until both members' traffic equals `expected`.
async fn both_show(
    net: &Net,
    workers: &[WorkerApi; 2],
    client: &Client,
    owner: &Sr25519Pair,
    expected: (u64, u64),
) {
    let start = Instant::now();
    loop {
        let a = traffic(&workers[0], client, owner).await;
        let b = traffic(&workers[1], client, owner).await;
        if a == expected && b == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "members show {a:?} and {b:?}, not {expected:?}; log tail:\n{}",
            tail(&net.log())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn workers(net: &mut Net) -> [WorkerApi; 2] {
    let w1 = port_of(&net.line("  worker-1 ", 120).await);
    let w2 = port_of(&net.line("  worker-2 ", 120).await);
    [
        WorkerApi::new(&format!("http://127.0.0.1:{w1}")).unwrap(),
        WorkerApi::new(&format!("http://127.0.0.1:{w2}")).unwrap(),
    ]
}

/// Waits until `worker` serves site 0.
async fn serving(net: &Net, worker: &WorkerApi) {
    let start = Instant::now();
    loop {
        if let Ok(info) = worker.analytics_info().await
            && info["sites"].as_array().is_some_and(|s| !s.is_empty())
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the worker never served the site; log tail:\n{}",
            tail(&net.log())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn visitors_consent_and_withdraw_and_members_agree_through_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path(), 2);
    let mut members = workers(&mut net).await;
    net.line("cluster 0x", 240).await;
    let url = net.url();
    let client = Client::connect(&url).await.unwrap();
    let owner = Sr25519Pair::from_uri("//Bob").unwrap();
    common::phala_at(
        &url,
        &[
            "analytics",
            "site",
            "register",
            "--domain",
            "shop.example",
            "--min-cohort",
            "3",
            "--prepay",
            "100",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_or_else(|e| panic!("register: {e}"));
    let cluster: H256 = client.site(0).await.unwrap().unwrap().info.cluster;
    for m in &members {
        serving(&net, m).await;
    }
    // Both members show the one analytics key the cluster key vouches for.
    let key = members[0].analytics_key(&client, cluster).await.unwrap();
    assert_eq!(
        members[1].analytics_key(&client, cluster).await.unwrap(),
        key
    );
    let snippet = common::phala_at(
        &url,
        &[
            "analytics",
            "snippet",
            "0",
            "--worker",
            &format!(
                "http://127.0.0.1:{}",
                port_of(&net.line("  worker-1 ", 5).await)
            ),
        ],
    )
    .unwrap();
    assert!(
        snippet.contains(&format!("data-key=\"0x{}\"", hex::encode(key))),
        "{snippet}"
    );

    let genesis = client.genesis_hash();
    let (head, _) = client.finalized_head().await.unwrap();
    // Eight accept everything, two only traffic, two decline (and send nothing).
    let visitors: Vec<Visitor> = (0..12u8)
        .map(|i| Visitor::from_seed(&[i + 1; 32]))
        .collect();
    for (i, v) in visitors.iter().enumerate().take(10) {
        let member = &members[i % 2];
        let purposes = if i < 8 {
            purpose::ALL
        } else {
            purpose::TRAFFIC
        };
        let now = now_ms();
        let consent = v.consent(&genesis, 0, purposes, now, now + 30 * DAY_MS, head);
        let ingested = member
            .ingest(seal_ingest(&key, &consent).unwrap())
            .await
            .unwrap();
        assert!(ingested.durable);
        for path in ["/", SECRET_PATH] {
            let pv = v.page_view(&genesis, 0, view(path));
            member
                .ingest(seal_ingest(&key, &pv).unwrap())
                .await
                .unwrap();
        }
    }
    // A replay is refused with its reason.
    let again = visitors[0].page_view(&genesis, 0, view("/"));
    let sealed = seal_ingest(&key, &again).unwrap();
    members[0].ingest(sealed.clone()).await.unwrap();
    let err = members[0].ingest(sealed).await.unwrap_err().to_string();
    assert!(err.contains("already received"), "{err}");
    both_show(&net, &members, &client, &owner, (21, 10)).await;
    // Pages count only the eight who allowed it.
    assert_eq!(
        pages(&members[1], &client, &owner).await,
        [("/".to_string(), 8), (SECRET_PATH.to_string(), 8)]
    );
    // Nobody else may ask.
    let eve = Sr25519Pair::from_uri("//Eve").unwrap();
    let err = members[0]
        .analyse(
            &client,
            &eve,
            AnalyticsQuery {
                site: 0,
                analysis: Analysis::Realtime,
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not run"), "{err}");

    // Visitor 0 reads what is held, then withdraws on chain (free, with the receipt) through
    // the other member; every member erases them.
    let data = members[1]
        .visitor_data(&client, &key, 0, &visitors[0])
        .await
        .unwrap();
    assert_eq!(data.views.len(), 3);
    assert!(data.views.iter().any(|v| v.path == SECRET_PATH.as_bytes()));
    assert_eq!(data.consent.unwrap().0.purposes, purpose::ALL);
    // The receipt comes once the chain has ordered the consent, with the visitor's data.
    let receipt = data.receipt.expect("a recorded consent has a receipt");
    let (head, _) = client.finalized_head().await.unwrap();
    let withdrawal = visitors[0].withdrawal(&genesis, 0, head, Some(receipt));
    members[1].relay_withdrawal(&withdrawal).await.unwrap();
    both_show(&net, &members, &client, &owner, (18, 9)).await;
    let data = members[0]
        .visitor_data(&client, &key, 0, &visitors[0])
        .await
        .unwrap();
    assert!(data.erased && data.views.is_empty(), "{data:?}");

    // Killed during ingestion: whatever a member acknowledged as durable is counted after
    // the restart, alike on both members.
    let late: Vec<Visitor> = (100..106u8).map(|i| Visitor::from_seed(&[i; 32])).collect();
    let mut durable_views = 0u64;
    let mut durable_people = std::collections::BTreeSet::new();
    for (i, v) in late.iter().enumerate() {
        let member = &members[i % 2];
        let now = now_ms();
        let consent = v.consent(&genesis, 0, purpose::ALL, now, now + DAY_MS, head);
        if !member
            .ingest(seal_ingest(&key, &consent).unwrap())
            .await
            .is_ok_and(|r| r.durable)
        {
            continue;
        }
        let pv = v.page_view(&genesis, 0, view("/late"));
        if member
            .ingest(seal_ingest(&key, &pv).unwrap())
            .await
            .is_ok_and(|r| r.durable)
        {
            durable_views += 1;
            durable_people.insert(i);
        }
        if i == 3 {
            net.restart();
            break;
        }
    }
    assert!(
        durable_views >= 3,
        "too few views before the kill to mean anything"
    );
    members = workers(&mut net).await;
    for m in &members {
        serving(&net, m).await;
    }
    let expected = (18 + durable_views, 9 + durable_people.len() as u64);
    both_show(&net, &members, &client_after(&net).await, &owner, expected).await;

    // Nothing in the clear: not the path, not a visitor key that never withdrew.
    net.stop();
    let mut files = Vec::new();
    common::files_under(net.dir(), &mut files);
    let visitor_key = match visitors[1].key() {
        phala_mq::analytics::VisitorKey::Ed25519(k) => k,
        phala_mq::analytics::VisitorKey::Sr25519(k) => k,
    };
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (what, needle) in [
            ("a page path", SECRET_PATH.as_bytes()),
            ("a visitor key", &visitor_key[..]),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{what} in the clear in {}",
                file.display()
            );
        }
    }
}

async fn client_after(net: &Net) -> Client {
    let start = Instant::now();
    loop {
        if let Ok(c) = Client::connect(&net.url()).await {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no node after restart"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
