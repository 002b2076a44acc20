//! `phala devnet --workers N --analytics-demo`: once the devnet's cluster has its key,
//! //Alice registers a Web3 Analytics site for 127.0.0.1 (or finds the one a resumed devnet
//! has), and the devnet serves a small demo site whose pages carry the tracker snippet, and
//! the owner's dashboard, both on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, anyhow};
use phala_client::Client;
use phala_client::keys::Sr25519Pair;
use phala_client::worker::WorkerApi;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::analytics::{self, SiteConfig, purpose};

/// How long the devnet waits for its cluster and the site.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);
/// The demo site's domain: its pages are served from 127.0.0.1.
pub const DEMO_DOMAIN: &str = "127.0.0.1";

/// Where the demo serves: its site and the dashboard.
#[derive(Clone, Copy, Debug)]
pub struct DemoPorts {
    pub site: u16,
    pub dashboard: u16,
}

pub fn spawn(
    rpc: SocketAddr,
    workers: Vec<String>,
    ports: DemoPorts,
    stop: tokio::sync::broadcast::Receiver<()>,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    crate::devnet_cluster::spawn_setup("analytics demo", SETUP_TIMEOUT, stop, async move {
        setup(rpc, &workers, ports).await
    })
}

async fn setup(rpc: SocketAddr, workers: &[String], ports: DemoPorts) -> Result<()> {
    let client = loop {
        match Client::connect(&format!("ws://{rpc}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let owner = Sr25519Pair::from_uri("//Alice").map_err(|e| anyhow!("{e}"))?;
    let first = workers
        .first()
        .ok_or_else(|| anyhow!("the analytics demo needs --workers 1 or more"))?;
    let api = WorkerApi::new(first)?;
    // The cluster the devnet made, once it has its key.
    let cluster = loop {
        if let Some((id, _)) = client
            .clusters()
            .await?
            .into_iter()
            .find(|(_, c)| c.pubkey.is_some())
        {
            break id;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let existing = client.sites().await?.into_iter().find(|s| {
        s.info.domain == DEMO_DOMAIN.as_bytes()
            && s.info.owner == owner.account_id()
            && s.info.cluster == cluster
    });
    let site = match existing {
        Some(s) => s.id,
        None => register(&client, &owner, cluster).await?,
    };
    // The worker serves the site once it has applied the registration.
    let key = loop {
        if let Ok(info) = api.analytics_info().await
            && info["sites"]
                .as_array()
                .is_some_and(|s| s.iter().any(|v| v.as_u64() == Some(site)))
        {
            break api.analytics_key(&client, cluster).await?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let snippet = format!(
        "<script src=\"{first}/analytics/tracker.js\" data-site=\"{site}\" data-key=\"0x{}\" \
         data-genesis=\"{}\" data-purposes=\"{}\" async></script>",
        hex::encode(key),
        client.genesis_hash(),
        purpose::ALL
    );
    let site_addr = serve_site(ports.site, snippet).await?;
    let (dashboard, _) = crate::analytics_report_cmds::serve_dashboard(
        client,
        first,
        owner,
        site,
        SocketAddr::from(([127, 0, 0, 1], ports.dashboard)),
    )
    .await?;
    crate::outln!(
        "  analytics demo: site #{site} at http://{site_addr}/ (visit it, accept or decline), \
         dashboard at http://{dashboard}/ (//Alice's queries)"
    );
    Ok(())
}

async fn register(
    client: &Client,
    owner: &Sr25519Pair,
    cluster: phala_client::primitives::H256,
) -> Result<u64> {
    let call = RuntimeCall::Analytics(analytics::Call::register_site {
        domain: DEMO_DOMAIN.as_bytes().to_vec(),
        cluster,
        config: SiteConfig {
            retention_days: 30,
            purposes: purpose::ALL,
            min_cohort: 5,
            dp: None,
        },
        prepay: 1_000 * phala_client::primitives::PHA,
    });
    crate::devnet_cluster::submit_retried(client, call, owner, "registering the demo site")
        .await?
        .events
        .iter()
        .find_map(|e| match e {
            phala_runtime::RuntimeEvent::Analytics(analytics::Event::SiteRegistered {
                site,
                ..
            }) => Some(*site),
            _ => None,
        })
        .ok_or_else(|| anyhow!("the demo site was not registered"))
}

const PAGES: [(&str, &str, &str); 4] = [
    (
        "/",
        "Welcome",
        "<p>Fresh beans, roasted weekly. This demo shop counts visits with Phala Web3 \
         Analytics: your browser encrypts each page view to the cluster's workers, and only \
         if you allow it.</p>",
    ),
    (
        "/pricing",
        "Pricing",
        "<ul><li>Espresso blend, 250 g: 9 €</li><li>Single origin, 250 g: 12 €</li>\
         <li>Subscription: 30 € a month</li></ul>",
    ),
    (
        "/blog/first-roast",
        "Our first roast",
        "<p>We started with a popcorn machine and a lot of smoke.</p>",
    ),
    (
        "/your-data",
        "Your data",
        "<p>What this site's analytics hold about you, read by your browser with its own key. \
         You can change what you allow, or withdraw and have it erased.</p>\
         <div id=\"phala-your-data\"></div>",
    ),
];

fn page(path: &str, title: &str, body: &str, snippet: &str) -> String {
    let nav: String = PAGES
        .iter()
        .map(|(p, t, _)| {
            let current = if *p == path {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"{p}\"{current}>{t}</a>")
        })
        .collect::<Vec<_>>()
        .join(" · ");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Example Coffee</title><link rel=\"icon\" href=\"data:,\"><style>body{{font:16px/1.5 system-ui,sans-serif;\
         max-width:760px;margin:40px auto;padding:0 16px;color:#222}}nav a{{color:#3d5afe}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;\
         padding:4px;text-align:left}}</style>{snippet}</head><body><nav>{nav}</nav>\
         <h1>{title}</h1>{body}</body></html>"
    )
}

async fn serve_site(port: u16, snippet: String) -> Result<SocketAddr> {
    use axum::response::Html;
    use axum::routing::get;
    let mut app = axum::Router::new();
    for (path, title, body) in PAGES {
        let html = page(path, title, body, &snippet);
        app = app.route(path, get(move || async move { Html(html) }));
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow!("cannot serve the demo site on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("demo site stopped: {e}");
        }
    });
    Ok(local)
}
