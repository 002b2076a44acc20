//! `phala analytics site …`: Web3 Analytics' sites as their owner manages them on chain —
//! register with a prepayment, change, top up, authorize analysts, close — and their status.
//! The snippet, reports and dashboard are in [`crate::analytics_report_cmds`].

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use phala_client::primitives::format_pha;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::analytics::{self, Call, DpConfig, SiteConfig, purpose};

use crate::args::{DEFAULT_URL, TxArgs, connect, parse_amount, resolve_account, submit_call};

#[derive(Debug, Subcommand)]
pub enum AnalyticsCmd {
    /// Manage a site: register, update, top-up, analyst, close, status.
    #[command(subcommand)]
    Site(SiteCmd),
    /// The tracker snippet to paste into a site's pages (its analytics key checked against
    /// the cluster key on chain).
    Snippet(crate::analytics_report_cmds::SnippetArgs),
    /// Run an analysis of a site (its owner or an analyst) and print it.
    Report(crate::analytics_report_cmds::ReportArgs),
    /// Serve a live dashboard of a site on this machine.
    Dashboard(crate::analytics_report_cmds::DashboardArgs),
}

/// What a site offers and how it protects its visitors. On `update`, options left out keep
/// their current values.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Days records are kept (1 to 3,650; registering: 30).
    #[arg(long)]
    retention_days: Option<u32>,
    /// The analyses offered, comma-separated: realtime, traffic, pages, sources, devices,
    /// engagement, or all (registering: all). A visitor consents to some of them; each
    /// answer counts only records whose consent covers it.
    #[arg(long)]
    purposes: Option<String>,
    /// Cells describing fewer people than this are suppressed (2 to 1,000; registering: 5).
    #[arg(long)]
    min_cohort: Option<u32>,
    /// Add Laplace noise with this ε per answer (0.001 to 10, e.g. 0.5).
    #[arg(long, conflicts_with = "no_dp")]
    dp_epsilon: Option<f64>,
    /// The ε a day's answers may spend together (default 10 × --dp-epsilon, at most 100).
    #[arg(long, requires = "dp_epsilon")]
    dp_daily_budget: Option<f64>,
    /// Add no noise (the default when registering).
    #[arg(long)]
    no_dp: bool,
}

impl ConfigArgs {
    /// The configuration these options give over `current` (a new site's defaults if
    /// none), checked as the chain checks it, so a mistake costs no fee.
    fn config(&self, current: Option<SiteConfig>) -> Result<SiteConfig> {
        let base = current.unwrap_or(SiteConfig {
            retention_days: 30,
            purposes: purpose::ALL,
            min_cohort: 5,
            dp: None,
        });
        let milli = |what: &str, v: f64| -> Result<u32> {
            let m = (v * 1000.0).round();
            if !(1.0..=f64::from(u32::MAX)).contains(&m) {
                bail!("{what} must be at least 0.001");
            }
            Ok(m as u32)
        };
        let dp = match (self.dp_epsilon, self.no_dp) {
            (Some(e), _) => {
                let epsilon_milli = milli("--dp-epsilon", e)?;
                let daily_budget_milli = match self.dp_daily_budget {
                    Some(b) => milli("--dp-daily-budget", b)?,
                    None => epsilon_milli.saturating_mul(10),
                };
                Some(DpConfig {
                    epsilon_milli,
                    daily_budget_milli,
                })
            }
            (None, true) => None,
            (None, false) => base.dp,
        };
        let config = SiteConfig {
            retention_days: self.retention_days.unwrap_or(base.retention_days),
            purposes: match &self.purposes {
                Some(p) => parse_purposes(p)?,
                None => base.purposes,
            },
            min_cohort: self.min_cohort.unwrap_or(base.min_cohort),
            dp,
        };
        analytics::check_config(&config).map_err(|e| anyhow!("{}", explain(e)))?;
        Ok(config)
    }
}

/// The chain's reason for refusing a configuration, with the flag to change.
fn explain(e: analytics::Error) -> &'static str {
    use analytics::Error as E;
    match e {
        E::BadRetention => "--retention-days must be 1 to 3650",
        E::BadPurposes => "--purposes must name at least one analysis",
        E::BadCohort => "--min-cohort must be 2 to 1000",
        E::BadPrivacy => {
            "--dp-epsilon must be 0.001 to 10, and --dp-daily-budget at least it and at most 100"
        }
        _ => "the configuration is not valid",
    }
}

#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Register a site whose data a cluster's workers hold, prepaying its ingestion; prints
    /// its id (for the tracker snippet).
    Register {
        /// The domain its pages are served from, e.g. shop.example.
        #[arg(long)]
        domain: String,
        /// The cluster (0x id, `phala clusters`); default: the only cluster, as `phala
        /// devnet --workers N` makes.
        #[arg(long)]
        cluster: Option<String>,
        /// PHA prepaid into the site's account (at least 1).
        #[arg(long, default_value = "10")]
        prepay: String,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Change a site's configuration (its owner).
    Update {
        /// The site's id (`phala analytics site status`).
        site: u64,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Prepay more PHA for a site (anyone).
    TopUp {
        /// The site's id (`phala analytics site status`).
        site: u64,
        /// PHA, e.g. "5".
        amount: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Let another account run some of a site's analyses (its owner); --purposes none
    /// removes it.
    Analyst {
        /// The site's id (`phala analytics site status`).
        site: u64,
        /// The analyst's SS58 address, 0x public key or secret URI.
        analyst: String,
        /// The analyses they may run, as for `register --purposes`; none removes them.
        #[arg(long, default_value = "all")]
        purposes: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Close a site (its owner): the prepayment left comes back and its cluster erases
    /// everything held about it.
    Close {
        /// The site's id (`phala analytics site status`).
        site: u64,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// The sites on chain (or one): owner, domain, cluster, configuration, prepayment left.
    Status {
        /// One site's id; all sites if left out.
        site: Option<u64>,
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
}

/// `traffic,pages`, `all` or `none`, into purpose bits.
pub fn parse_purposes(input: &str) -> Result<u32> {
    let mut bits = 0;
    for name in input.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        bits |= match name.to_ascii_lowercase().as_str() {
            "all" => purpose::ALL,
            "none" => 0,
            other => purpose::NAMES
                .iter()
                .find(|(_, n)| *n == other)
                .map(|(bit, _)| *bit)
                .ok_or_else(|| {
                    let names: Vec<&str> = purpose::NAMES.iter().map(|(_, n)| *n).collect();
                    anyhow!(
                        "unknown purpose `{name}` (one of {}, all, none)",
                        names.join(", ")
                    )
                })?,
        };
    }
    Ok(bits)
}

fn purpose_names(bits: u32) -> String {
    let names: Vec<&str> = purpose::NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn config_line(config: &SiteConfig) -> String {
    let dp = match config.dp {
        Some(dp) => format!(
            "Laplace noise ε {} per answer, {} a day",
            f64::from(dp.epsilon_milli) / 1000.0,
            f64::from(dp.daily_budget_milli) / 1000.0
        ),
        None => "no noise".into(),
    };
    format!(
        "retention {} days; analyses: {}; cells under {} people suppressed; {dp}",
        config.retention_days,
        purpose_names(config.purposes),
        config.min_cohort
    )
}

async fn send(tx: TxArgs, call: Call) -> Result<Vec<phala_runtime::RuntimeEvent>> {
    let (client, signer) = tx.open().await?;
    submit_call(&client, &signer, RuntimeCall::Analytics(call)).await
}

pub async fn run(cmd: AnalyticsCmd) -> Result<()> {
    let cmd = match cmd {
        AnalyticsCmd::Site(cmd) => cmd,
        AnalyticsCmd::Snippet(args) => return crate::analytics_report_cmds::snippet(args).await,
        AnalyticsCmd::Report(args) => return crate::analytics_report_cmds::report(args).await,
        AnalyticsCmd::Dashboard(args) => {
            return crate::analytics_report_cmds::dashboard(args).await;
        }
    };
    match cmd {
        SiteCmd::Register {
            domain,
            cluster,
            prepay,
            config,
            tx,
        } => {
            let domain = domain.trim().to_ascii_lowercase();
            if !analytics::valid_domain(domain.as_bytes()) {
                bail!("`{domain}` is not a domain name (letters, digits, `-` and `.`)");
            }
            let config = config.config(None)?;
            let prepay = parse_amount(Some("--prepay"), &prepay)?;
            if prepay < analytics::MIN_PREPAY {
                bail!(
                    "--prepay must be at least {}",
                    format_pha(analytics::MIN_PREPAY)
                );
            }
            let (client, signer) = tx.open().await?;
            let cluster = crate::args::pick_cluster(&client, cluster.as_deref()).await?;
            let call = Call::register_site {
                domain: domain.into_bytes(),
                cluster,
                config,
                prepay,
            };
            let events = submit_call(&client, &signer, RuntimeCall::Analytics(call)).await?;
            let site = events.iter().find_map(|e| match e {
                phala_runtime::RuntimeEvent::Analytics(analytics::Event::SiteRegistered {
                    site,
                    ..
                }) => Some(*site),
                _ => None,
            });
            match site {
                Some(site) => crate::outln!("Site #{site} registered."),
                None => bail!("the chain did not register the site"),
            }
            Ok(())
        }
        SiteCmd::Update { site, config, tx } => {
            let (client, signer) = tx.open().await?;
            let current = client
                .site(site)
                .await?
                .ok_or_else(|| anyhow!("no open site #{site} (phala analytics site status)"))?;
            let config = config.config(Some(current.info.config))?;
            submit_call(
                &client,
                &signer,
                RuntimeCall::Analytics(Call::update_site { site, config }),
            )
            .await?;
            crate::outln!("Site #{site}: {}", config_line(&config));
            Ok(())
        }
        SiteCmd::TopUp { site, amount, tx } => {
            let amount = parse_amount(None, &amount)?;
            if amount == 0 {
                bail!("the amount to prepay must be above 0");
            }
            send(tx, Call::top_up { site, amount }).await?;
            Ok(())
        }
        SiteCmd::Analyst {
            site,
            analyst,
            purposes,
            tx,
        } => {
            let analyst = resolve_account(&analyst)?;
            let purposes = parse_purposes(&purposes)?;
            let (client, signer) = tx.open().await?;
            let offered = client
                .site(site)
                .await?
                .ok_or_else(|| anyhow!("no open site #{site} (phala analytics site status)"))?
                .info
                .config
                .purposes;
            if purposes & !offered != 0 {
                bail!(
                    "site #{site} offers only {}: an analyst cannot run {}",
                    purpose_names(offered),
                    purpose_names(purposes & !offered)
                );
            }
            submit_call(
                &client,
                &signer,
                RuntimeCall::Analytics(Call::set_analyst {
                    site,
                    analyst,
                    purposes,
                }),
            )
            .await?;
            crate::outln!(
                "{analyst} may run on site #{site}: {}",
                purpose_names(purposes)
            );
            Ok(())
        }
        SiteCmd::Close { site, tx } => {
            send(tx, Call::close_site { site }).await?;
            crate::outln!("Site #{site} closed; its cluster erases its data.");
            Ok(())
        }
        SiteCmd::Status { site, url } => {
            let client = connect(&url, std::time::Duration::from_secs(60)).await?;
            let sites = match site {
                Some(id) => vec![
                    client
                        .site(id)
                        .await?
                        .ok_or_else(|| anyhow!("no open site #{id}"))?,
                ],
                None => client.sites().await?,
            };
            if sites.is_empty() {
                crate::outln!("No sites.");
            }
            for s in sites {
                crate::outln!(
                    "#{} {} (owner {}, cluster {}): {}; prepaid {} left",
                    s.id,
                    String::from_utf8_lossy(&s.info.domain),
                    s.info.owner,
                    s.info.cluster,
                    config_line(&s.info.config),
                    format_pha(s.prepaid)
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_parse_by_name() {
        assert_eq!(parse_purposes("all").unwrap(), purpose::ALL);
        assert_eq!(
            parse_purposes("traffic, pages").unwrap(),
            purpose::TRAFFIC | purpose::PAGES
        );
        assert_eq!(parse_purposes("none").unwrap(), 0);
        assert!(parse_purposes("everything").is_err());
        assert_eq!(
            purpose_names(purpose::PAGES | purpose::DEVICES),
            "pages, devices"
        );
    }
}
