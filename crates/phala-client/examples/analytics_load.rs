//! Web3 Analytics ingestion under load, end to end: VISITORS visitors consent, then send
//! VIEWS page views each to one worker of the site's cluster over HTTP, from CONCURRENCY
//! tasks (each from its own loopback address, as separate visitors' machines would, when the
//! worker is on this machine). Each request is answered once its batch is sealed in the
//! worker's checkpoint. Prints page views acknowledged per second, then how long until the
//! site owner's signed analysis (on WORKER and on OTHER_WORKER, if given) counts them all,
//! and the time from single page views to being counted.
//!
//! usage: analytics_load NODE_URL WORKER_URL SITE OWNER_SURI VISITORS VIEWS CONCURRENCY
//!        [OTHER_WORKER_URL]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use phala_client::Client;
use phala_client::analytics_worker::{Visitor, seal_ingest};
use phala_client::keys::Sr25519Pair;
use phala_client::worker::WorkerApi;
use phala_mq::analytics_api::{Analysis, AnalyticsQuery, AnswerBody, Days, Device, PageView};

const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn view(task: usize, n: u64, path: &str) -> PageView {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(task as u64).to_le_bytes());
    id[8..].copy_from_slice(&(n ^ now_ms().rotate_left(20)).to_le_bytes());
    PageView {
        id,
        at_ms: now_ms(),
        path: path.as_bytes().to_vec(),
        referrer: Vec::new(),
        device: Device::Desktop,
        screen: 4,
    }
}

/// Page views the owner's traffic analysis counts today and yesterday.
async fn counted(worker: &WorkerApi, node: &Client, owner: &Sr25519Pair, site: u64) -> u64 {
    let today = (now_ms() / DAY_MS) as u32;
    let query = AnalyticsQuery {
        site,
        analysis: Analysis::Traffic {
            days: Days {
                from_day: today - 1,
                days: 2,
            },
            hourly: false,
        },
    };
    match worker.analyse(node, owner, query).await {
        Ok((_, answer)) => match answer.body {
            AnswerBody::Traffic { rows } => rows.iter().map(|r| r.1.unwrap_or(0)).sum(),
            _ => 0,
        },
        Err(_) => 0,
    }
}

async fn post(
    http: &HttpClient<HttpConnector, Full<Bytes>>,
    url: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let request = hyper::Request::post(format!("{url}/analytics/ingest"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = http.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status.is_success() && body.windows(14).any(|w| w == b"\"durable\":true") {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [
        _,
        node,
        worker_url,
        site,
        owner,
        visitors,
        views,
        concurrency,
        rest @ ..,
    ] = args.as_slice()
    else {
        return Err(
            "usage: analytics_load NODE_URL WORKER_URL SITE OWNER_SURI VISITORS VIEWS \
                    CONCURRENCY [OTHER_WORKER_URL]"
                .into(),
        );
    };
    let site: u64 = site.parse()?;
    let (visitors, views, concurrency): (usize, u64, usize) =
        (visitors.parse()?, views.parse()?, concurrency.parse()?);
    let node = Client::connect(node).await?;
    let owner = Sr25519Pair::from_uri(owner)?;
    let info = node.site(site).await?.ok_or("no such site")?;
    let worker = WorkerApi::new(worker_url)?;
    let others: Vec<WorkerApi> = rest
        .iter()
        .map(|u| WorkerApi::new(u))
        .collect::<Result<_, _>>()?;
    let key = worker.analytics_key(&node, info.info.cluster).await?;
    let genesis = node.genesis_hash();
    let (head, _) = node.finalized_head().await?;
    let before = counted(&worker, &node, &owner, site).await;

    let visitors: Arc<Vec<Visitor>> = Arc::new(
        (0..visitors)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                seed[8..16].copy_from_slice(&now_ms().to_le_bytes());
                Visitor::from_seed(&seed)
            })
            .collect(),
    );
    // Each task takes visitors i ≡ task (mod concurrency): consents first, then page views.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let visitors = visitors.clone();
        let url = worker_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut connector = HttpConnector::new();
            if url.contains("://127.0.0.1") {
                let last = u8::try_from(task % 250 + 2).unwrap_or(2);
                connector.set_local_address(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))));
            }
            let http = HttpClient::builder(TokioExecutor::new()).build(connector);
            let mut errors = Vec::new();
            let mine: Vec<&Visitor> = visitors.iter().skip(task).step_by(concurrency).collect();
            for v in &mine {
                let now = now_ms();
                let consent = v.consent(&genesis, site, 63, now, now + DAY_MS, head);
                if let Err(e) = post(&http, &url, seal_ingest(&key, &consent).unwrap()).await {
                    errors.push(e);
                }
            }
            let mut sent = 0u64;
            for n in 0..views {
                for v in &mine {
                    let pv = v.page_view(&genesis, site, view(task, n, "/load"));
                    match post(&http, &url, seal_ingest(&key, &pv).unwrap()).await {
                        Ok(()) => sent += 1,
                        Err(e) => errors.push(e),
                    }
                }
            }
            (sent, errors)
        }));
    }
    let mut sent = 0;
    let mut errors = Vec::new();
    for t in tasks {
        let (s, e) = t.await?;
        sent += s;
        errors.extend(e);
    }
    let took = start.elapsed();
    println!(
        "{sent} page views (and {} consents) acknowledged durable in {:.1} s: {:.0} page views/s; \
         {} refused{}",
        visitors.len(),
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64(),
        errors.len(),
        errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    for (name, w) in
        std::iter::once(("worker", &worker)).chain(others.iter().map(|w| ("other worker", w)))
    {
        let until = Instant::now() + Duration::from_secs(300);
        loop {
            let now = counted(w, &node, &owner, site).await;
            if now >= before + sent {
                println!(
                    "{name} counts them all {:.1} s after the last acknowledgement",
                    (start.elapsed() - took).as_secs_f64()
                );
                break;
            }
            if Instant::now() > until {
                println!("{name} counts {} of {sent} after 300 s", now - before);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Single page views, one at a time: from sending to being counted.
    let http = HttpClient::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut latencies = Vec::new();
    for n in 0..5u64 {
        let base = counted(&worker, &node, &owner, site).await;
        let t0 = Instant::now();
        let pv = visitors[0].page_view(&genesis, site, view(10_000, n, "/single"));
        post(&http, worker_url, seal_ingest(&key, &pv)?).await?;
        let acked = t0.elapsed();
        while counted(&worker, &node, &owner, site).await <= base {
            if t0.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        latencies.push((acked, t0.elapsed()));
    }
    for (acked, total) in &latencies {
        println!(
            "a page view: acknowledged in {} ms, counted in {} ms",
            acked.as_millis(),
            total.as_millis()
        );
    }
    Ok(())
}
