//! One Web3 Analytics member killed during ingestion, alone: a `phala devnet --workers 2`
//! cluster grows by a third `phala worker` process (`phala cluster add-worker`), visitors
//! send to it, it is SIGKILLed mid-way and started again, and then every member, the
//! restarted one included, counts exactly the events acknowledged as durable.

mod common;

use std::time::{Duration, Instant};

use common::net::{Net, port_of, start_worker, tail, wait_info, worker_info};
use phala_client::Client;
use phala_client::analytics_worker::{Visitor, seal_ingest};
use phala_client::worker::WorkerApi;
use phala_keys::Sr25519Pair;
use phala_mq::analytics_api::{Analysis, AnalyticsQuery, AnswerBody, Days, Device, PageView};
use phala_runtime::modules::analytics::purpose;

const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn view(n: u64) -> PageView {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&now_ms().to_le_bytes());
    id[8..].copy_from_slice(&n.to_le_bytes());
    PageView {
        id,
        at_ms: now_ms(),
        path: b"/".to_vec(),
        referrer: Vec::new(),
        device: Device::Desktop,
        screen: 0,
    }
}

/// (page views, visitors) today and yesterday, as `worker` counts them.
async fn traffic(worker: &WorkerApi, client: &Client, owner: &Sr25519Pair) -> Option<(u64, u64)> {
    let today = (now_ms() / DAY_MS) as u32;
    let query = AnalyticsQuery {
        site: 0,
        analysis: Analysis::Traffic {
            days: Days {
                from_day: today - 1,
                days: 2,
            },
            hourly: false,
        },
    };
    let (_, answer) = worker.analyse(client, owner, query).await.ok()?;
    match answer.body {
        AnswerBody::Traffic { rows } => Some(rows.iter().fold((0, 0), |(v, u), r| {
            (v + r.1.unwrap_or(0), u + r.2.unwrap_or(0))
        })),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_killed_alone_during_ingestion_loses_nothing_and_answers_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path(), 2);
    let w1 = port_of(&net.line("  worker-1 ", 120).await);
    let w2 = port_of(&net.line("  worker-2 ", 120).await);
    net.line("cluster 0x", 240).await;
    let url = net.url();
    let member = format!("http://127.0.0.1:{w1}");
    let client = Client::connect(&url).await.unwrap();

    // A third member, in its own process.
    let port = common::free_port();
    let base = dir.path().join("worker-3");
    let log = base.with_extension("log");
    let mut child = start_worker(&url, &base, port, &member);
    wait_info(port, "registration", &log, |i| i["registered"] == true).await;
    let pubkey = worker_info(port).await["pubkey"]
        .as_str()
        .unwrap()
        .to_string();
    let cluster = worker_info(w1).await["cluster"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::task::block_in_place(|| {
        common::phala_at(
            &url,
            &[
                "cluster",
                "add-worker",
                "--worker",
                &pubkey,
                "--suri",
                "//Alice",
            ],
        )
    })
    .unwrap_or_else(|e| panic!("add-worker: {e}"));
    wait_info(port, "the cluster's state", &log, |i| {
        i["cluster"] == cluster.as_str() && i["clusterJoiningFrom"].is_null()
    })
    .await;

    let owner = Sr25519Pair::from_uri("//Bob").unwrap();
    tokio::task::block_in_place(|| {
        common::phala_at(
            &url,
            &[
                "analytics",
                "site",
                "register",
                "--domain",
                "shop.example",
                "--min-cohort",
                "2",
                "--prepay",
                "100",
                "--suri",
                "//Bob",
            ],
        )
    })
    .unwrap_or_else(|e| panic!("register: {e}"));
    let site = client.site(0).await.unwrap().unwrap().info.cluster;
    let apis: Vec<WorkerApi> = [w1, w2, port]
        .iter()
        .map(|p| WorkerApi::new(&format!("http://127.0.0.1:{p}")).unwrap())
        .collect();
    // Every member serves the site.
    let start = Instant::now();
    for api in &apis {
        while !api
            .analytics_info()
            .await
            .is_ok_and(|i| i["sites"].as_array().is_some_and(|s| !s.is_empty()))
        {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "a member never served the site"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let key = loop {
        if let Ok(key) = apis[2].analytics_key(&client, site).await {
            break key;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Visitors send to the third member; it is killed after the fourth, mid-stream.
    let genesis = client.genesis_hash();
    let (head, _) = client.finalized_head().await.unwrap();
    let mut durable = (0u64, 0u64);
    for i in 0..8u64 {
        let v = Visitor::from_seed(&[i as u8 + 1; 32]);
        let now = now_ms();
        let consent = v.consent(&genesis, 0, purpose::ALL, now, now + DAY_MS, head);
        let sealed = seal_ingest(&key, &consent).unwrap();
        match apis[2].ingest(sealed).await {
            Ok(r) if r.durable => {}
            other => panic!("a consent before the kill: {other:?}"),
        }
        let mut views = 0;
        for n in 0..3 {
            let pv = v.page_view(&genesis, 0, view(i * 10 + n));
            if apis[2]
                .ingest(seal_ingest(&key, &pv).unwrap())
                .await
                .is_ok_and(|r| r.durable)
            {
                views += 1;
            }
        }
        if views > 0 {
            durable = (durable.0 + views, durable.1 + 1);
        }
        if i == 3 {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
    }
    assert!(durable.0 >= 6, "too few views before the kill: {durable:?}");

    // Started again from its sealed state: what it acknowledged reaches the chain, and all
    // three members count exactly that.
    child = start_worker(&url, &base, port, &member);
    let start = Instant::now();
    loop {
        let mut counts = Vec::new();
        for api in &apis {
            counts.push(traffic(api, &client, &owner).await);
        }
        if counts.iter().all(|c| *c == Some(durable)) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "members count {counts:?}, not {durable:?}; devnet log tail:\n{}\nworker-3 log tail:\n{}",
            tail(&net.log()),
            tail(&std::fs::read_to_string(&log).unwrap_or_default())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(net);
}
