//! `phala analytics snippet | report | dashboard`: what a site owner pastes into pages, the
//! analyses as a table, and a live dashboard page served on this machine, whose queries the
//! CLI signs with the owner's (or an analyst's) key. Every answer comes from a worker of the
//! site's cluster, signed, sealed to this machine, and naming its block.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use phala_client::Client;
use phala_client::keys::Sr25519Pair;
use phala_client::worker::WorkerApi;
use phala_mq::analytics_api::{
    Analysis, AnalyticsAnswer, AnalyticsQuery, AnswerBody, Days, MAX_DAYS,
};
use serde_json::{Value, json};

use crate::args::{DEFAULT_URL, connect, date, suri_pair, time};

pub use crate::args::DAY_MS;
/// The dashboard page.
const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");
/// The default worker: a devnet's first.
const DEFAULT_WORKER: &str = "http://127.0.0.1:8000";

#[derive(Debug, Args)]
pub struct SnippetArgs {
    /// The site's id (`phala analytics site status`).
    pub site: u64,
    /// A worker of the site's cluster, whose URL visitors' browsers reach.
    #[arg(long, default_value = DEFAULT_WORKER)]
    pub worker: String,
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The site's id.
    pub site: u64,
    /// realtime, traffic, pages, sources, devices or engagement.
    pub analysis: String,
    /// Whole UTC days, ending today (1 to 93).
    #[arg(long, default_value = "7")]
    pub days: u32,
    /// Traffic per hour instead of per day (traffic only).
    #[arg(long)]
    pub hourly: bool,
    /// The owner's or an analyst's secret URI: the query is signed by it.
    #[arg(long)]
    pub suri: String,
    /// A worker of the site's cluster.
    #[arg(long, default_value = DEFAULT_WORKER)]
    pub worker: String,
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The site's id.
    pub site: u64,
    /// The owner's or an analyst's secret URI: the dashboard's queries are signed by it.
    #[arg(long)]
    pub suri: String,
    /// A worker of the site's cluster.
    #[arg(long, default_value = DEFAULT_WORKER)]
    pub worker: String,
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Port on 127.0.0.1 for the dashboard (0: any free one).
    #[arg(long, default_value = "8090")]
    pub port: u16,
}

/// An analysis by name over the `days` days ending today.
pub fn analysis(name: &str, days: u32, hourly: bool, today: u32) -> Result<Analysis> {
    if days == 0 || days > MAX_DAYS {
        bail!("--days must be 1 to {MAX_DAYS}");
    }
    let days = Days {
        from_day: today.saturating_sub(days - 1),
        days,
    };
    if hourly && name != "traffic" {
        bail!("--hourly applies to the traffic analysis only");
    }
    Ok(match name {
        "realtime" => Analysis::Realtime,
        "traffic" => Analysis::Traffic { days, hourly },
        "pages" => Analysis::Pages { days },
        "sources" => Analysis::Sources { days },
        "devices" => Analysis::Devices { days },
        "engagement" => Analysis::Engagement { days },
        other => bail!(
            "unknown analysis `{other}` (realtime, traffic, pages, sources, devices, engagement)"
        ),
    })
}

fn today() -> u32 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    u32::try_from(ms / u128::from(DAY_MS)).unwrap_or(u32::MAX)
}

fn cell(c: Option<u64>) -> Value {
    c.map_or(Value::Null, Value::from)
}

/// An answer as JSON: hidden cells are `null`.
pub fn answer_json(height: u32, answer: &AnalyticsAnswer) -> Value {
    let body = match &answer.body {
        AnswerBody::Realtime {
            window_end_ms,
            visitors,
        } => {
            json!({ "kind": "realtime", "windowEndMs": window_end_ms, "visitors": cell(*visitors) })
        }
        AnswerBody::Traffic { rows } => json!({
            "kind": "traffic",
            "rows": rows.iter().map(|(start, views, visitors)| json!({
                "startMs": start, "pageViews": cell(*views), "visitors": cell(*visitors),
            })).collect::<Vec<_>>(),
        }),
        AnswerBody::Top { rows } => json!({
            "kind": "top",
            "rows": rows.iter().map(|(key, visitors, views)| json!({
                "key": String::from_utf8_lossy(key), "visitors": visitors, "pageViews": views,
            })).collect::<Vec<_>>(),
        }),
        AnswerBody::Engagement { rows } => json!({
            "kind": "engagement",
            "rows": rows.iter().map(|(start, visits, bounce, duration)| json!({
                "startMs": start, "visits": cell(*visits), "bounceRate": bounce, "visitDurationS": duration,
            })).collect::<Vec<_>>(),
        }),
    };
    json!({
        "block": height,
        "atMs": answer.at_ms,
        "noiseScale": answer.noise_scale_milli.map(|n| n as f64 / 1000.0),
        "budgetLeft": answer.budget_left_milli.map(|n| f64::from(n) / 1000.0),
        "body": body,
    })
}

fn show(c: Option<u64>) -> String {
    c.map_or_else(|| "hidden".into(), |n| n.to_string())
}

/// An answer as the table `report` prints.
pub fn answer_table(answer: &AnalyticsAnswer, hourly: bool) -> String {
    let mut out = String::new();
    match &answer.body {
        AnswerBody::Realtime { visitors, .. } => {
            out.push_str(&format!(
                "Visitors in the last 5 minutes: {}\n",
                show(*visitors)
            ));
        }
        AnswerBody::Traffic { rows } => {
            out.push_str(&format!(
                "{:<17} {:>10} {:>9}\n",
                if hourly { "hour (UTC)" } else { "day" },
                "page views",
                "visitors"
            ));
            for (start, views, visitors) in rows.iter().rev() {
                let when = if hourly {
                    time(*start)
                } else {
                    date(start / DAY_MS)
                };
                out.push_str(&format!(
                    "{when:<17} {:>10} {:>9}\n",
                    show(*views),
                    show(*visitors)
                ));
            }
        }
        AnswerBody::Top { rows } => {
            out.push_str(&format!(
                "{:<40} {:>9} {:>10}\n",
                "", "visitors", "page views"
            ));
            for (key, visitors, views) in rows {
                let key = String::from_utf8_lossy(key);
                let key = if key.is_empty() {
                    "(direct / none)".into()
                } else {
                    key
                };
                out.push_str(&format!("{key:<40} {visitors:>9} {views:>10}\n"));
            }
            if rows.is_empty() {
                out.push_str("(no key has enough visitors to be shown)\n");
            }
        }
        AnswerBody::Engagement { rows } => {
            out.push_str(&format!(
                "{:<11} {:>7} {:>12} {:>14}\n",
                "day", "visits", "bounce rate", "visit duration"
            ));
            for (start, visits, bounce, duration) in rows.iter().rev() {
                out.push_str(&format!(
                    "{:<11} {:>7} {:>12} {:>14}\n",
                    date(start / DAY_MS),
                    show(*visits),
                    bounce.map_or("-".into(), |b| format!("{b}%")),
                    duration.map_or("-".into(), |d| format!("{d} s")),
                ));
            }
        }
    }
    if let Some(scale) = answer.noise_scale_milli {
        out.push_str(&format!(
            "Counts carry Laplace noise of scale {}; ε left today: {}\n",
            scale as f64 / 1000.0,
            answer
                .budget_left_milli
                .map_or("-".into(), |b| (f64::from(b) / 1000.0).to_string())
        ));
    }
    out
}

pub async fn snippet(args: SnippetArgs) -> Result<()> {
    let client = connect(&args.url, std::time::Duration::from_secs(60)).await?;
    let site = client
        .site(args.site)
        .await?
        .ok_or_else(|| anyhow!("no open site #{} (phala analytics site status)", args.site))?;
    let worker = WorkerApi::new(&args.worker)?;
    let key = worker.analytics_key(&client, site.info.cluster).await?;
    let endpoint = args.worker.trim_end_matches('/');
    crate::outln!(
        "<!-- Phala Web3 Analytics for {domain} (site #{id}): paste into every page. -->\n\
         <script src=\"{endpoint}/analytics/tracker.js\" data-site=\"{id}\" \
         data-key=\"0x{key}\" data-genesis=\"{genesis}\" data-purposes=\"{purposes}\" \
         async></script>\n\
         <!-- On your \"your data\" page, where visitors see, withdraw and erase: -->\n\
         <div id=\"phala-your-data\"></div>",
        domain = String::from_utf8_lossy(&site.info.domain),
        id = args.site,
        key = hex::encode(key),
        genesis = client.genesis_hash(),
        purposes = site.info.config.purposes,
    );
    Ok(())
}

/// Checks, before asking, what would make every answer a refusal: the site is open, the
/// signer may run `purpose` there (any analysis if 0), and the worker is in its cluster.
async fn check_access(
    client: &Client,
    worker: &WorkerApi,
    url: &str,
    site: u64,
    signer: &Sr25519Pair,
    purpose: u32,
) -> Result<()> {
    let snapshot = client
        .site(site)
        .await?
        .ok_or_else(|| anyhow!("no open site #{site} (phala analytics site status)"))?;
    let who = signer.account_id();
    let granted = if who == snapshot.info.owner {
        snapshot.info.config.purposes
    } else {
        client
            .storage(
                &phala_runtime::modules::analytics::ANALYSTS.key(&site, &who),
                None,
            )
            .await?
            .and_then(|b| <u32 as parity_scale_codec::Decode>::decode(&mut b.as_slice()).ok())
            .unwrap_or(0)
    };
    let allowed = if purpose == 0 {
        granted != 0
    } else {
        granted & purpose != 0
    };
    if !allowed {
        bail!(
            "{who} may not run {} on site #{site}: only its owner {} and the analysts it names              (`phala analytics site analyst`) may",
            if purpose == 0 {
                "any analysis".to_string()
            } else {
                "this analysis".to_string()
            },
            snapshot.info.owner
        );
    }
    let cluster = snapshot.info.cluster;
    worker.analytics_key(client, cluster).await.map_err(|e| {
        anyhow!(
            "worker {url} cannot answer for site #{site}: {e} (site #{site}'s cluster is              {cluster}; `phala cluster {cluster}` lists its members)"
        )
    })?;
    Ok(())
}

pub async fn report(args: ReportArgs) -> Result<()> {
    let signer = suri_pair(&args.suri)?;
    let client = connect(&args.url, std::time::Duration::from_secs(60)).await?;
    let analysis = analysis(&args.analysis, args.days, args.hourly, today())?;
    let worker = WorkerApi::new(&args.worker)?;
    check_access(
        &client,
        &worker,
        &args.worker,
        args.site,
        &signer,
        analysis.purpose(),
    )
    .await?;
    caught_up(&client, &worker).await?;
    let (height, answer) = worker
        .analyse(
            &client,
            &signer,
            AnalyticsQuery {
                site: args.site,
                analysis,
            },
        )
        .await?;
    if args.json {
        crate::outln!("{}", answer_json(height, &answer));
    } else {
        crate::outln!(
            "Site #{} {}, computed at block #{height} ({} UTC):\n{}",
            args.site,
            args.analysis,
            time(answer.at_ms),
            answer_table(&answer, args.hourly).trim_end()
        );
    }
    Ok(())
}

/// Waits (up to 30 s) until the worker has verified the chain's finalized head as of now,
/// so an answer reflects what was just registered or granted on chain.
async fn caught_up(client: &Client, worker: &WorkerApi) -> Result<()> {
    let (finalized, _) = client.finalized_head().await?;
    let start = std::time::Instant::now();
    loop {
        let head = worker.analytics_info().await?["head"].as_u64().unwrap_or(0);
        if head >= u64::from(finalized) {
            return Ok(());
        }
        if start.elapsed() > std::time::Duration::from_secs(30) {
            bail!(
                "the worker is at block #{head}, behind the chain's #{finalized}: still syncing?"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// What the dashboard's handlers share.
struct Dashboard {
    client: Client,
    worker: WorkerApi,
    signer: Sr25519Pair,
    site: u64,
    /// The port it serves on: requests must name 127.0.0.1 or localhost with it.
    port: std::sync::OnceLock<u16>,
}

impl Dashboard {
    /// Whether a request to the API comes from the dashboard's own page: other web pages
    /// the owner visits could otherwise spend the site's privacy budget with plain requests
    /// (no custom header without CORS, which this server never grants), or read answers
    /// through a rebound DNS name (the Host header).
    fn allows(&self, headers: &axum::http::HeaderMap) -> bool {
        let port = self.port.get().copied().unwrap_or(0);
        let host_ok = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h == format!("127.0.0.1:{port}") || h == format!("localhost:{port}"));
        host_ok && headers.contains_key("x-phala-dashboard")
    }
}

fn forbidden() -> axum::Json<Value> {
    axum::Json(json!({ "error": "the dashboard answers its own page only" }))
}

/// Serves the dashboard for `site` on `addr` until the task is dropped.
pub async fn serve_dashboard(
    client: Client,
    worker: &str,
    signer: Sr25519Pair,
    site: u64,
    addr: SocketAddr,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    use axum::extract::{Query, State};
    use axum::routing::get;
    let state = Arc::new(Dashboard {
        client,
        worker: WorkerApi::new(worker)?,
        signer,
        site,
        port: std::sync::OnceLock::new(),
    });
    let app = axum::Router::new()
        .route("/", get(|| async { axum::response::Html(DASHBOARD_HTML) }))
        .route(
            "/api/site",
            get(
                |State(d): State<Arc<Dashboard>>, headers: axum::http::HeaderMap| async move {
                    if !d.allows(&headers) {
                        return forbidden();
                    }
                    match d.client.site(d.site).await {
                        Ok(Some(s)) => axum::Json(json!({
                            "site": d.site,
                            "domain": String::from_utf8_lossy(&s.info.domain),
                            "purposes": s.info.config.purposes,
                            "minCohort": s.info.config.min_cohort,
                            "retentionDays": s.info.config.retention_days,
                            "dp": s.info.config.dp.map(|dp| json!({
                                "epsilon": f64::from(dp.epsilon_milli) / 1000.0,
                                "dailyBudget": f64::from(dp.daily_budget_milli) / 1000.0,
                            })),
                        })),
                        Ok(None) => {
                            axum::Json(json!({ "error": format!("no open site #{}", d.site) }))
                        }
                        Err(e) => axum::Json(json!({ "error": e.to_string() })),
                    }
                },
            ),
        )
        .route(
            "/api/report",
            get(
                |State(d): State<Arc<Dashboard>>,
                 headers: axum::http::HeaderMap,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    if !d.allows(&headers) {
                        return forbidden();
                    }
                    let name = q.get("analysis").map_or("traffic", |s| s.as_str());
                    let days = q.get("days").and_then(|s| s.parse().ok()).unwrap_or(7);
                    let hourly = q.get("hourly").is_some_and(|h| h == "true" || h == "1");
                    let result = async {
                        let analysis = analysis(name, days, hourly, today())?;
                        let query = AnalyticsQuery {
                            site: d.site,
                            analysis,
                        };
                        let (height, answer) =
                            d.worker.analyse(&d.client, &d.signer, query).await?;
                        anyhow::Ok(answer_json(height, &answer))
                    }
                    .await;
                    axum::Json(result.unwrap_or_else(|e| json!({ "error": format!("{e:#}") })))
                },
            ),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let _ = state.port.set(local.port());
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("dashboard stopped: {e}");
        }
    });
    Ok((local, handle))
}

pub async fn dashboard(args: DashboardArgs) -> Result<()> {
    let signer = suri_pair(&args.suri)?;
    let client = connect(&args.url, std::time::Duration::from_secs(60)).await?;
    check_access(
        &client,
        &WorkerApi::new(&args.worker)?,
        &args.worker,
        args.site,
        &signer,
        0,
    )
    .await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let (local, handle) = serve_dashboard(client, &args.worker, signer, args.site, addr).await?;
    crate::outln!(
        "Dashboard of site #{} on http://{local}/ (queries signed here, answered by {}); Ctrl-C \
         stops it.",
        args.site,
        args.worker
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = handle => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(20_000), "2024-10-04");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(
            time(20_000 * DAY_MS + 13 * 3_600_000 + 5 * 60_000),
            "2024-10-04 13:05"
        );
    }

    #[test]
    fn analyses_by_name_cover_the_days_ending_today() {
        assert_eq!(
            analysis("pages", 7, false, 100).unwrap(),
            Analysis::Pages {
                days: Days {
                    from_day: 94,
                    days: 7
                }
            }
        );
        assert!(analysis("pages", 0, false, 100).is_err());
        assert!(analysis("everything", 7, false, 100).is_err());
    }
}
