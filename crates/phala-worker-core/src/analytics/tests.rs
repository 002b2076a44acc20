use super::ingest::{DeskKeys, IngestDesk, IngestError};
use super::report::{ReportError, analyse};
use super::*;
use phala_crypto::Purpose;
use phala_mq::analytics::{DpConfig, SiteConfig};
use phala_mq::analytics_api::{Analysis, AnswerBody, Days};
use phala_runtime::modules::analytics::purpose;

const GENESIS: H256 = H256([7; 32]);
/// Noon of day 20,000 (2024-10-04).
const DAY: u32 = 20_000;
const NOON: u64 = DAY as u64 * DAY_MS + 12 * HOUR_MS;

fn cluster() -> ClusterKey {
    ClusterKey {
        cluster: H256([3; 32]),
        seed: Seed::from_bytes([9; 32]),
        members: 1,
    }
}

fn owner() -> AccountId32 {
    AccountId32([1; 32])
}

fn config(min_cohort: u32, dp: Option<DpConfig>) -> SiteConfig {
    SiteConfig {
        retention_days: 30,
        purposes: purpose::ALL,
        min_cohort,
        dp,
    }
}

struct Visitor(phala_keys::Ed25519Pair);

impl Visitor {
    fn new(n: u16) -> Self {
        let mut seed = [0u8; 32];
        seed[..2].copy_from_slice(&n.to_le_bytes());
        seed[2] = 0xaa;
        Visitor(phala_keys::Ed25519Pair::from_seed(&seed))
    }
    fn key(&self) -> VisitorKey {
        VisitorKey::Ed25519(self.0.public())
    }
    fn sign(&self, site: u64, item: IngestItem) -> Ingest {
        let mut ingest = Ingest {
            site,
            visitor: self.key(),
            item,
            signature: [0; 64],
        };
        ingest.signature = self.0.sign(&ingest.signing_payload(&GENESIS));
        ingest
    }
    fn consent(&self, site: u64, purposes: u32, at_ms: u64, block: BlockNumber) -> Ingest {
        self.sign(
            site,
            IngestItem::Consent(Consent {
                purposes,
                expires_ms: at_ms + 30 * DAY_MS,
                signed_ms: at_ms,
                block,
            }),
        )
    }
    fn view(&self, site: u64, path: &str, at_ms: u64) -> Ingest {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&at_ms.to_le_bytes());
        id[8..].copy_from_slice(&self.0.public()[..8]);
        self.sign(
            site,
            IngestItem::PageView(PageView {
                id,
                at_ms,
                path: path.as_bytes().to_vec(),
                referrer: b"example.org".to_vec(),
                device: Device::Desktop,
                screen: 4,
            }),
        )
    }
}

struct Cluster {
    state: AnalyticsState,
    next_batch: u64,
    rng: commonware_utils::TestRng,
}

impl Cluster {
    fn new(site_config: SiteConfig) -> Self {
        let mut cluster = Cluster {
            state: AnalyticsState::default(),
            next_batch: 0,
            rng: commonware_utils::test_rng(),
        };
        cluster.command(
            AnalyticsCommand::SiteConfigured {
                site: 1,
                owner: owner(),
                domain: b"shop.example".to_vec(),
                config: site_config,
            },
            NOON,
        );
        cluster
    }

    fn command(&mut self, command: AnalyticsCommand, block_ms: u64) {
        self.state
            .apply(command, &service_secret(&cluster()), block_ms);
    }

    /// Seals `items` as one member would and applies the batch as the chain relays it.
    fn batch(&mut self, items: Vec<Ingest>, block_ms: u64) {
        let sealed = Envelope::seal(
            &mut self.rng,
            &service_key(&cluster()).ecdh_public(),
            phala_crypto::Purpose::AnalyticsBatch,
            None,
            &BatchBody { items }.encode(),
        )
        .unwrap();
        let id = self.next_batch;
        self.next_batch += 1;
        self.command(
            AnalyticsCommand::Batch {
                site: 1,
                id,
                from: [0; 32],
                events: 0,
                sealed,
            },
            block_ms,
        );
    }

    fn ask(&mut self, analysis: Analysis, now_ms: u64) -> Result<AnswerBody, ReportError> {
        let site = self.state.sites.get(&1).unwrap().clone();
        analyse(
            &mut self.rng,
            1,
            &site,
            &owner(),
            analysis,
            now_ms,
            &self.state.ledger,
            1,
        )
        .map(|a| a.body)
    }
}

fn today() -> Days {
    Days {
        from_day: DAY,
        days: 1,
    }
}

fn daily_visitors(body: &AnswerBody) -> Vec<Option<u64>> {
    match body {
        AnswerBody::Traffic { rows } => rows.iter().map(|r| r.2).collect(),
        other => panic!("not traffic: {other:?}"),
    }
}

fn top_rows(body: &AnswerBody) -> Vec<(String, u64)> {
    match body {
        AnswerBody::Top { rows } => rows
            .iter()
            .map(|(k, v, _)| (String::from_utf8_lossy(k).into_owned(), *v))
            .collect(),
        other => panic!("not a top list: {other:?}"),
    }
}

#[test]
fn analyses_count_only_what_each_consent_covers_and_a_withdrawal_erases() {
    let mut c = Cluster::new(config(2, None));
    let everyone: Vec<Visitor> = (0..6).map(Visitor::new).collect();
    let mut items = Vec::new();
    // 0–2 accept everything, 3 only traffic, 4 declines (sends nothing), 5 never consents
    // but a page view under its key arrives anyway.
    for (i, v) in everyone.iter().enumerate() {
        match i {
            0..=2 => items.push(v.consent(1, purpose::ALL, NOON, 10)),
            3 => items.push(v.consent(1, purpose::TRAFFIC, NOON, 10)),
            _ => {}
        }
    }
    for (i, v) in everyone.iter().enumerate() {
        if i != 4 {
            items.push(v.view(1, "/", NOON + 1_000));
            items.push(v.view(1, "/pricing", NOON + 2_000));
        }
    }
    c.batch(items, NOON + 3_000);
    let traffic = c
        .ask(
            Analysis::Traffic {
                days: today(),
                hourly: false,
            },
            NOON + 4_000,
        )
        .unwrap();
    assert_eq!(daily_visitors(&traffic), [Some(4)]);
    let pages = c
        .ask(Analysis::Pages { days: today() }, NOON + 4_000)
        .unwrap();
    assert_eq!(
        top_rows(&pages),
        [("/".to_string(), 3), ("/pricing".to_string(), 3)]
    );
    let site = c.state.sites.get(&1).unwrap();
    assert!(!site.visitors.contains_key(&everyone[5].key()));

    // Visitor 0 withdraws on chain: gone from every analysis, and erased.
    c.command(
        AnalyticsCommand::ConsentWithdrawn {
            site: 1,
            visitor: everyone[0].key(),
            signed_at: 11,
            at: 12,
        },
        NOON + 5_000,
    );
    let traffic = c
        .ask(
            Analysis::Traffic {
                days: today(),
                hourly: false,
            },
            NOON + 6_000,
        )
        .unwrap();
    assert_eq!(daily_visitors(&traffic), [Some(3)]);
    assert!(!c.state.sites[&1].visitors.contains_key(&everyone[0].key()));
    // An old consent statement replayed after the withdrawal does not bring them back; a
    // newer one does, with none of the erased records.
    c.batch(
        vec![everyone[0].consent(1, purpose::ALL, NOON, 10)],
        NOON + 7_000,
    );
    assert!(!c.state.sites[&1].visitors.contains_key(&everyone[0].key()));
    c.batch(
        vec![everyone[0].consent(1, purpose::ALL, NOON + 7_000, 13)],
        NOON + 8_000,
    );
    assert!(
        c.state.sites[&1].visitors[&everyone[0].key()]
            .views
            .is_empty()
    );
}

#[test]
fn a_cell_below_the_cohort_is_never_revealed_by_differencing() {
    let k = 3;
    let mut c = Cluster::new(config(k, None));
    let crowd: Vec<Visitor> = (0..8).map(Visitor::new).collect();
    let loner = Visitor::new(100);
    let mut items: Vec<Ingest> = crowd
        .iter()
        .chain([&loner])
        .map(|v| v.consent(1, purpose::ALL, NOON, 10))
        .collect();
    // Eight people at noon on /, one person alone at 1 pm on /secret.
    for v in &crowd {
        items.push(v.view(1, "/", NOON + 60_000));
    }
    c.batch(items, NOON + 120_000);
    c.batch(
        vec![loner.view(1, "/secret", NOON + HOUR_MS + 60_000)],
        NOON + HOUR_MS + 120_000,
    );
    let now = NOON + HOUR_MS + 180_000;

    // The day shows nine visitors: the hour of the loner must not be derivable from the
    // day minus the shown hours, so the smallest shown hour is hidden with it.
    let day = c
        .ask(
            Analysis::Traffic {
                days: today(),
                hourly: false,
            },
            now,
        )
        .unwrap();
    assert_eq!(daily_visitors(&day), [Some(9)]);
    let hours = c
        .ask(
            Analysis::Traffic {
                days: today(),
                hourly: true,
            },
            now,
        )
        .unwrap();
    let hours = daily_visitors(&hours);
    // Hours after the answer's block are not reported.
    assert_eq!(hours.len(), 14);
    assert_eq!(hours[12], None, "the noon hour is hidden with the loner's");
    assert_eq!(hours[13], None);
    let shown: u64 = hours.iter().flatten().sum();
    assert_eq!(shown, 0, "no subtraction isolates the loner");

    // Top pages: /secret is not listed; /, with eight, is.
    let pages = c.ask(Analysis::Pages { days: today() }, now).unwrap();
    assert_eq!(top_rows(&pages), []);
    // ... because hiding /secret alone would let day views − shown views reveal it.
    // With a second person on /secret … and a third, it shows.
    let friends: Vec<Visitor> = (200..202).map(Visitor::new).collect();
    let mut items: Vec<Ingest> = friends
        .iter()
        .map(|v| v.consent(1, purpose::ALL, now, 11))
        .collect();
    items.extend(friends.iter().map(|v| v.view(1, "/secret", now + 1_000)));
    c.batch(items, now + 2_000);
    let pages = c
        .ask(Analysis::Pages { days: today() }, now + 3_000)
        .unwrap();
    assert_eq!(
        top_rows(&pages),
        [("/".to_string(), 8), ("/secret".to_string(), 3)]
    );

    // Ranges are sums of days, so a range and the same range one day shorter differ by
    // a whole day's shown cells only: yesterday alone has the loner's twin, hidden.
    let twin = Visitor::new(300);
    let yesterday = NOON - DAY_MS;
    c.batch(
        vec![
            twin.consent(1, purpose::ALL, now, 12),
            twin.view(1, "/secret", yesterday + 1_000),
        ],
        yesterday + 2_000,
    );
    let two_days = c
        .ask(
            Analysis::Pages {
                days: Days {
                    from_day: DAY - 1,
                    days: 2,
                },
            },
            now + 4_000,
        )
        .unwrap();
    let one_day = c
        .ask(Analysis::Pages { days: today() }, now + 4_000)
        .unwrap();
    assert_eq!(top_rows(&two_days), top_rows(&one_day));
}

#[test]
fn realtime_counts_the_last_five_minutes_and_hides_small_numbers() {
    let mut c = Cluster::new(config(3, None));
    let people: Vec<Visitor> = (0..4).map(Visitor::new).collect();
    let mut items: Vec<Ingest> = people
        .iter()
        .map(|v| v.consent(1, purpose::ALL, NOON, 10))
        .collect();
    items.extend(people.iter().map(|v| v.view(1, "/", NOON + 1_000)));
    c.batch(items, NOON + 2_000);
    let ask = |c: &mut Cluster, at| match c.ask(Analysis::Realtime, at).unwrap() {
        AnswerBody::Realtime { visitors, .. } => visitors,
        other => panic!("{other:?}"),
    };
    assert_eq!(ask(&mut c, NOON + 60_000), Some(4));
    // Nobody in the window: a zero describes nobody.
    assert_eq!(ask(&mut c, NOON + 6 * 60_000), Some(0));
}

#[test]
fn differential_privacy_adds_noise_and_refuses_once_the_budget_is_spent() {
    let dp = DpConfig {
        epsilon_milli: 500,
        daily_budget_milli: 1_000,
    };
    let mut c = Cluster::new(config(2, Some(dp)));
    let people: Vec<Visitor> = (0..50).map(Visitor::new).collect();
    let mut items: Vec<Ingest> = people
        .iter()
        .map(|v| v.consent(1, purpose::ALL, NOON, 10))
        .collect();
    items.extend(people.iter().map(|v| v.view(1, "/", NOON + 1_000)));
    c.batch(items, NOON + 2_000);
    let site = c.state.sites[&1].clone();
    let answer = analyse(
        &mut c.rng,
        1,
        &site,
        &owner(),
        Analysis::Realtime,
        NOON + 3_000,
        &c.state.ledger,
        1,
    )
    .unwrap();
    assert_eq!(answer.noise_scale_milli, Some(2_000));
    assert_eq!(answer.budget_left_milli, Some(500));
    c.ask(Analysis::Realtime, NOON + 4_000).unwrap();
    let refused = c.ask(Analysis::Realtime, NOON + 5_000).unwrap_err();
    assert!(matches!(refused, ReportError::Budget(_)), "{refused}");
    assert!(refused.to_string().contains("renews at 00:00 UTC"));
    // The next day the budget is back.
    c.ask(Analysis::Realtime, NOON + DAY_MS).unwrap();
}

#[test]
fn only_the_owner_and_authorized_analysts_ask_and_only_offered_analyses() {
    let mut c = Cluster::new(SiteConfig {
        purposes: purpose::TRAFFIC | purpose::PAGES,
        ..config(2, None)
    });
    let analyst = AccountId32([2; 32]);
    c.command(
        AnalyticsCommand::AnalystSet {
            site: 1,
            analyst,
            purposes: purpose::PAGES,
        },
        NOON,
    );
    let site = c.state.sites[&1].clone();
    let run = |c: &mut Cluster, who: &AccountId32, analysis| {
        analyse(
            &mut c.rng,
            1,
            &site,
            who,
            analysis,
            NOON,
            &c.state.ledger,
            1,
        )
    };
    assert!(run(&mut c, &analyst, Analysis::Pages { days: today() }).is_ok());
    let traffic = Analysis::Traffic {
        days: today(),
        hourly: false,
    };
    assert_eq!(
        run(&mut c, &analyst, traffic),
        Err(ReportError::NotAllowed("traffic", 1))
    );
    assert!(run(&mut c, &owner(), traffic).is_ok());
    assert_eq!(
        run(&mut c, &AccountId32([9; 32]), traffic),
        Err(ReportError::NotAllowed("traffic", 1))
    );
    assert_eq!(
        run(&mut c, &owner(), Analysis::Realtime),
        Err(ReportError::NotOffered {
            site: 1,
            name: "realtime"
        })
    );
}

#[test]
fn retention_erases_old_records_and_closing_erases_the_site() {
    let mut c = Cluster::new(SiteConfig {
        retention_days: 1,
        ..config(2, None)
    });
    let v = Visitor::new(1);
    c.batch(
        vec![
            v.consent(1, purpose::ALL, NOON, 10),
            v.view(1, "/", NOON + 1_000),
        ],
        NOON + 2_000,
    );
    assert_eq!(c.state.sites[&1].view_count(), 1);
    c.state.end_block(NOON + DAY_MS + HOUR_MS, 100);
    assert_eq!(c.state.sites[&1].view_count(), 0);
    c.command(AnalyticsCommand::SiteClosed { site: 1 }, NOON + DAY_MS);
    assert!(c.state.sites.is_empty());
}

fn src(n: u32) -> phala_crypto::query::Source {
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

fn sealed(ingest: &Ingest) -> Vec<u8> {
    let mut rng = commonware_utils::test_rng();
    Envelope::seal(
        &mut rng,
        &service_key(&cluster()).ecdh_public(),
        Purpose::Ingest,
        None,
        &ingest.encode(),
    )
    .unwrap()
    .encode()
}

#[test]
fn the_desk_refuses_bad_statements_with_reasons_and_batches_good_ones_for_every_member() {
    let desk = desk();
    let v = Visitor::new(1);
    let origin = Some("https://shop.example");
    let consent = v.consent(1, purpose::ALL, NOON, 10);
    desk.accept(&sealed(&consent), origin, src(1), NOON)
        .unwrap();
    // The receipt the chain checks is the cluster key's, over its receipt payload.
    let receipt = consent_receipt(&cluster(), &GENESIS, 1, &v.key());
    let payload = phala_runtime::modules::analytics::receipt_payload(&GENESIS, 1, &v.key());
    let cluster_public = KeyPair::new(Seed::from_bytes([9; 32])).public();
    assert!(phala_primitives::crypto::sr25519_verify(
        &receipt,
        &payload,
        &cluster_public
    ));
    let view = v.view(1, "/", NOON);
    desk.accept(
        &sealed(&view),
        Some("https://www.shop.example:8443"),
        src(1),
        NOON,
    )
    .unwrap();
    assert_eq!(
        desk.accept(&sealed(&view), origin, src(1), NOON),
        Err(IngestError::Replayed)
    );
    let other = v.view(1, "/x", NOON + 1);
    assert!(matches!(
        desk.accept(&sealed(&other), Some("https://evil.example"), src(1), NOON),
        Err(IngestError::WrongOrigin { .. })
    ));
    assert!(matches!(
        desk.accept(
            &sealed(&other),
            Some("https://notshop.example"),
            src(1),
            NOON
        ),
        Err(IngestError::WrongOrigin { .. })
    ));
    let mut forged = v.view(1, "/y", NOON + 2);
    forged.visitor = Visitor::new(2).key();
    assert_eq!(
        desk.accept(&sealed(&forged), origin, src(1), NOON),
        Err(IngestError::BadSignature)
    );
    let stale = v.view(1, "/z", NOON - 11 * 60_000);
    assert!(matches!(
        desk.accept(&sealed(&stale), origin, src(1), NOON),
        Err(IngestError::Invalid(_))
    ));
    let bad_path = v.view(1, "no-slash", NOON + 3);
    assert!(matches!(
        desk.accept(&sealed(&bad_path), origin, src(1), NOON),
        Err(IngestError::Invalid(_))
    ));
    assert_eq!(
        desk.accept(&sealed(&v.view(9, "/", NOON + 4)), origin, src(1), NOON),
        Err(IngestError::UnknownSite(9))
    );
    assert!(matches!(
        desk.accept(b"\x00\x01garbage", origin, src(1), NOON),
        Err(IngestError::Malformed(_))
    ));

    // Two members apply the same batches alike.
    let mut rng = commonware_utils::test_rng();
    let batches = desk.take_batches(&mut rng);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].events, 2);
    assert_eq!(desk.pending(), 0);
    let mut a = Cluster::new(config(2, None));
    let mut b = Cluster::new(config(2, None));
    for member in [&mut a, &mut b] {
        member.command(
            AnalyticsCommand::Batch {
                site: 1,
                id: 0,
                from: [1; 32],
                events: 2,
                sealed: batches[0].sealed.clone(),
            },
            NOON + 1_000,
        );
    }
    assert_eq!(a.state, b.state);
    assert_eq!(a.state.sites[&1].view_count(), 1);
}

#[test]
fn one_flooding_source_is_refused_while_others_still_get_in() {
    let desk = desk();
    desk.set_source_limit(50);
    let v = Visitor::new(1);
    for i in 0..50u64 {
        desk.accept(&sealed(&v.view(1, "/", NOON + i)), None, src(2), NOON)
            .unwrap();
    }
    assert_eq!(
        desk.accept(&sealed(&v.view(1, "/", NOON + 99_999)), None, src(2), NOON),
        Err(IngestError::Flooded)
    );
    desk.accept(
        &sealed(&Visitor::new(2).view(1, "/", NOON)),
        None,
        src(3),
        NOON,
    )
    .unwrap();
    // A minute later the flooding source may send again.
    desk.accept(
        &sealed(&v.view(1, "/", NOON + 99_999)),
        None,
        src(2),
        NOON + ingest::SOURCE_WINDOW_MS,
    )
    .unwrap();
}

proptest::proptest! {
    #[test]
    fn the_desk_never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
        let desk = desk();
        let _ = desk.accept(&bytes, Some("https://shop.example"), src(9), NOON);
    }

    #[test]
    fn any_sealed_plaintext_is_refused_or_accepted_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500)) {
        let desk = desk();
        let mut rng = commonware_utils::test_rng();
        let envelope = Envelope::seal(
            &mut rng,
            &service_key(&cluster()).ecdh_public(),
            Purpose::Ingest,
            None,
            &bytes,
        )
        .unwrap();
        let _ = desk.accept(&envelope.encode(), None, src(9), NOON);
        let mut state = Cluster::new(config(2, None));
        let sealed = Envelope::seal(&mut rng, &service_key(&cluster()).ecdh_public(), Purpose::AnalyticsBatch, None, &bytes).unwrap();
        state.command(AnalyticsCommand::Batch { site: 1, id: 0, from: [0; 32], events: 0, sealed }, NOON);
    }
}

#[test]
fn a_late_batch_still_counts_and_a_replayed_copy_never_does() {
    let mut c = Cluster::new(config(2, None));
    let v = Visitor::new(1);
    c.batch(vec![v.consent(1, purpose::ALL, NOON, 10)], NOON);
    // Taken at noon, relayed 20 minutes later (its member was down meanwhile).
    let view = v.view(1, "/", NOON);
    c.batch(vec![view.clone()], NOON + 20 * 60_000);
    assert_eq!(c.state.sites[&1].view_count(), 1);
    // The same page view again, through another member, hours later: refused by its id.
    c.batch(vec![view], NOON + 5 * HOUR_MS);
    assert_eq!(c.state.sites[&1].view_count(), 1);
}

#[test]
fn an_old_erasure_or_consent_cannot_undo_a_newer_choice() {
    let mut c = Cluster::new(config(2, None));
    let v = Visitor::new(1);
    let erase = v.sign(1, IngestItem::Erase { block: 10 });
    c.batch(
        vec![v.consent(1, purpose::ALL, NOON, 9), erase.clone()],
        NOON + 1_000,
    );
    assert!(!c.state.sites[&1].visitors.contains_key(&v.key()));
    c.batch(
        vec![
            v.consent(1, purpose::ALL, NOON + 2_000, 20),
            v.view(1, "/", NOON + 2_500),
        ],
        NOON + 3_000,
    );
    // The old erasure, replayed: the newer consent and its record stand.
    c.batch(vec![erase], NOON + 5_000);
    assert_eq!(c.state.sites[&1].visitors[&v.key()].views.len(), 1);

    // Declining everything erases, and the earlier consent replayed does not come back.
    let earlier = v.consent(1, purpose::ALL, NOON + 6_000, 21);
    c.batch(
        vec![earlier.clone(), v.consent(1, 0, NOON + 7_000, 22)],
        NOON + 8_000,
    );
    assert!(!c.state.sites[&1].visitors.contains_key(&v.key()));
    c.batch(vec![earlier], NOON + 9_000);
    assert!(!c.state.sites[&1].visitors.contains_key(&v.key()));
}

#[test]
fn erasures_of_unknown_keys_leave_nothing_and_withdrawals_are_forgotten_in_time() {
    let mut c = Cluster::new(config(2, None));
    let strangers: Vec<Ingest> = (0..50)
        .map(|i| Visitor::new(i).sign(1, IngestItem::Erase { block: 10 }))
        .collect();
    c.batch(strangers, NOON);
    assert!(c.state.sites[&1].withdrawn.is_empty());
    let v = Visitor::new(99);
    c.batch(vec![v.consent(1, purpose::ALL, NOON, 10)], NOON);
    c.command(
        AnalyticsCommand::ConsentWithdrawn {
            site: 1,
            visitor: v.key(),
            signed_at: 11,
            at: 12,
        },
        NOON,
    );
    assert_eq!(c.state.sites[&1].withdrawn.len(), 1);
    c.state.end_block(NOON + HOUR_MS, 11 + WITHDRAWN_MEMORY);
    assert_eq!(c.state.sites[&1].withdrawn.len(), 1);
    c.state.end_block(NOON + 2 * HOUR_MS, 12 + WITHDRAWN_MEMORY);
    assert!(c.state.sites[&1].withdrawn.is_empty());
}

#[test]
fn what_a_consent_does_not_cover_is_not_kept() {
    let mut c = Cluster::new(config(2, None));
    let v = Visitor::new(1);
    c.batch(
        vec![
            v.consent(1, purpose::REALTIME | purpose::TRAFFIC, NOON, 10),
            v.view(1, "/private/path", NOON + 1_000),
        ],
        NOON + 2_000,
    );
    let held = &c.state.sites[&1].visitors[&v.key()].views[0];
    assert!(held.path.is_empty() && held.referrer.is_empty());
    assert_eq!(held.device, Device::Unknown);
}

#[test]
fn with_noise_a_path_one_person_visited_is_not_listed() {
    let dp = DpConfig {
        epsilon_milli: 1_000,
        daily_budget_milli: 100_000,
    };
    let mut c = Cluster::new(config(5, Some(dp)));
    let v = Visitor::new(1);
    c.batch(
        vec![
            v.consent(1, purpose::ALL, NOON, 10),
            v.view(1, "/reset/SECRET", NOON + 1_000),
        ],
        NOON + 2_000,
    );
    for _ in 0..100 {
        let rows = top_rows(
            &c.ask(Analysis::Pages { days: today() }, NOON + 3_000)
                .unwrap(),
        );
        assert!(rows.iter().all(|(k, _)| !k.contains("SECRET")), "{rows:?}");
    }
    // The budget of 100 answers is spent.
    assert!(matches!(
        c.ask(Analysis::Pages { days: today() }, NOON + 3_000),
        Err(ReportError::Budget(_))
    ));
}

#[test]
fn bad_requests_count_against_their_source_before_any_work() {
    let desk = desk();
    desk.set_source_limit(20);
    for _ in 0..20 {
        assert!(matches!(
            desk.accept(b"garbage", None, src(7), NOON),
            Err(IngestError::Malformed(_))
        ));
    }
    let good = Visitor::new(1).view(1, "/", NOON);
    assert_eq!(
        desk.accept(&sealed(&good), None, src(7), NOON),
        Err(IngestError::Flooded)
    );
    // Others are not affected.
    desk.accept(&sealed(&good), None, src(8), NOON).unwrap();
}

#[test]
fn the_members_of_a_cluster_share_one_daily_budget() {
    let dp = DpConfig {
        epsilon_milli: 500,
        daily_budget_milli: 1_000,
    };
    let c = Cluster::new(config(2, Some(dp)));
    let site = c.state.sites[&1].clone();
    let mut rng = commonware_utils::test_rng();
    // Two members, each with its own ledger: half the budget each, so asking both cannot
    // spend more than the site's budget.
    for member in [AnalyticsState::default(), AnalyticsState::default()] {
        let ask = |rng: &mut commonware_utils::TestRng| {
            analyse(
                rng,
                1,
                &site,
                &owner(),
                Analysis::Realtime,
                NOON,
                &member.ledger,
                2,
            )
        };
        assert_eq!(ask(&mut rng).unwrap().budget_left_milli, Some(0));
        assert!(matches!(ask(&mut rng), Err(ReportError::Budget(_))));
    }
}
