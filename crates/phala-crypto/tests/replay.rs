//! The replay guard under a flood: one caller, or one address with many accounts, fills only
//! its own budget; replays are refused from any address; memory stays bounded.
//!
//! Before budgets, one caller sending 200,000 distinct nonces made the guard answer `Busy`
//! to everyone for as long as those queries stayed valid (up to 600 blocks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use phala_crypto::query::{
    MAX_NONCES_PER_CALLER, MAX_NONCES_PER_NETWORK, MAX_NONCES_PER_SOURCE, MAX_QUERY_TTL,
    MAX_REMEMBERED_NONCES, QueryBody, QueryError, ReplayGuard, Source,
};
use phala_primitives::{AccountId32, H256};

const HEIGHT: u32 = 10;

fn body(n: u64) -> QueryBody {
    let mut nonce = [0u8; 32];
    nonce[..8].copy_from_slice(&n.to_le_bytes());
    QueryBody {
        worker: [3; 32],
        contract: H256([1; 32]),
        nonce,
        expires_at: HEIGHT + MAX_QUERY_TTL,
        payload: Vec::new(),
    }
}

fn source(last: u8) -> Source {
    Source::from(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)))
}

fn account(n: u32) -> AccountId32 {
    let mut id = [0xac; 32];
    id[..4].copy_from_slice(&n.to_le_bytes());
    AccountId32(id)
}

/// Admits distinct nonces from `caller` at `from` until refused (or `most` admitted).
fn flood(
    guard: &mut ReplayGuard,
    caller: Option<AccountId32>,
    from: Source,
    first: u64,
    most: u64,
) -> (u64, Option<QueryError>) {
    for n in 0..most {
        if let Err(e) = guard.admit(&body(first + n), caller, from, HEIGHT) {
            return (n, Some(e));
        }
    }
    (most, None)
}

#[test]
fn a_flooding_caller_fills_only_its_own_budget() {
    let mut guard = ReplayGuard::default();
    let mallory = Some(account(666));
    // More than the whole guard used to hold: the flooder is stopped at its budget.
    let (admitted, refusal) = flood(&mut guard, mallory, source(1), 0, 200_001);
    assert_eq!(admitted, MAX_NONCES_PER_CALLER as u64);
    assert_eq!(
        refusal,
        Some(QueryError::CallerBusy {
            limit: MAX_NONCES_PER_CALLER
        })
    );
    // From another address it is the same caller, still over its budget.
    assert_eq!(
        guard.admit(&body(1 << 40), mallory, source(2), HEIGHT),
        Err(QueryError::CallerBusy {
            limit: MAX_NONCES_PER_CALLER
        })
    );
    // Everyone else is admitted: another account, from the flooder's address too, and an
    // anonymous caller elsewhere.
    assert_eq!(
        guard.admit(&body(1 << 41), Some(account(1)), source(3), HEIGHT),
        Ok(())
    );
    assert_eq!(
        guard.admit(&body(1 << 42), Some(account(2)), source(1), HEIGHT),
        Ok(())
    );
    assert_eq!(guard.admit(&body(1 << 43), None, source(4), HEIGHT), Ok(()));
    // Once its queries expire, the flooder is admitted again.
    assert_eq!(
        guard.admit(
            &QueryBody {
                expires_at: HEIGHT + 1 + MAX_QUERY_TTL,
                ..body(1 << 44)
            },
            mallory,
            source(1),
            HEIGHT + MAX_QUERY_TTL + 1,
        ),
        Ok(())
    );
}

#[test]
fn an_anonymous_flood_fills_only_its_address() {
    let mut guard = ReplayGuard::default();
    let (admitted, refusal) = flood(&mut guard, None, source(1), 0, 200_001);
    assert_eq!(admitted, MAX_NONCES_PER_CALLER as u64);
    assert!(matches!(refusal, Some(QueryError::CallerBusy { .. })));
    // Anonymous callers elsewhere, and signed ones from that address, still get in.
    assert_eq!(guard.admit(&body(1 << 40), None, source(2), HEIGHT), Ok(()));
    assert_eq!(
        guard.admit(&body(1 << 41), Some(account(1)), source(1), HEIGHT),
        Ok(())
    );
}

#[test]
fn many_accounts_from_one_address_fill_only_that_address() {
    let mut guard = ReplayGuard::default();
    let from = source(1);
    let mut admitted = 0u64;
    let mut refusal = None;
    // Accounts cost nothing to make: one address signing with a new account every so often.
    for a in 0..100u32 {
        let (n, e) = flood(&mut guard, Some(account(a)), from, admitted, 1_000);
        admitted += n;
        if e.is_some() {
            refusal = e;
            break;
        }
    }
    assert_eq!(admitted, MAX_NONCES_PER_SOURCE as u64);
    assert_eq!(
        refusal,
        Some(QueryError::SourceBusy {
            limit: MAX_NONCES_PER_SOURCE
        })
    );
    assert_eq!(
        guard.admit(&body(1 << 40), Some(account(7)), source(2), HEIGHT),
        Ok(()),
        "another address, even with an account the flooder used"
    );
    assert_eq!(guard.admit(&body(1 << 41), None, source(3), HEIGHT), Ok(()));
}

#[test]
fn no_single_address_or_network_reaches_the_global_cap() {
    const { assert!(MAX_NONCES_PER_SOURCE * 10 <= MAX_REMEMBERED_NONCES) };
    const { assert!(MAX_NONCES_PER_NETWORK * 5 <= MAX_REMEMBERED_NONCES) };
    const { assert!(MAX_NONCES_PER_SOURCE <= MAX_NONCES_PER_NETWORK) };
    const { assert!(MAX_NONCES_PER_CALLER <= MAX_NONCES_PER_SOURCE) };
    // The cap is still there for many addresses at once, and holds.
    let mut guard = ReplayGuard::default();
    let mut n = 0u64;
    let mut last = None;
    'sources: for s in 0..=(MAX_REMEMBERED_NONCES / MAX_NONCES_PER_SOURCE) as u8 {
        for a in 0..(MAX_NONCES_PER_SOURCE / MAX_NONCES_PER_CALLER + 1) as u32 {
            let caller = Some(account(u32::from(s) << 16 | a));
            // Each address in a network of its own.
            let (admitted, refusal) = flood(
                &mut guard,
                caller,
                Source::from(IpAddr::V4(Ipv4Addr::new(198, 18, s, 1))),
                n,
                MAX_NONCES_PER_CALLER as u64,
            );
            n += admitted;
            if matches!(refusal, Some(QueryError::Busy)) {
                last = refusal;
                break 'sources;
            }
        }
    }
    assert_eq!(last, Some(QueryError::Busy));
    assert_eq!(guard.len(), MAX_REMEMBERED_NONCES);
}

#[test]
fn a_replay_is_refused_from_any_address() {
    let mut guard = ReplayGuard::default();
    let alice = Some(account(1));
    assert_eq!(guard.admit(&body(1), alice, source(1), HEIGHT), Ok(()));
    for from in [source(1), source(2), Source::UNKNOWN] {
        assert_eq!(
            guard.admit(&body(1), alice, from, HEIGHT + 1),
            Err(QueryError::Replayed)
        );
    }
    // Anonymous nonces are remembered whatever the address too.
    assert_eq!(guard.admit(&body(2), None, source(1), HEIGHT), Ok(()));
    assert_eq!(
        guard.admit(&body(2), None, source(2), HEIGHT),
        Err(QueryError::Replayed)
    );
    // A caller refused for its budget is not told it replayed, nor charged for a replay.
    let mut full = ReplayGuard::default();
    let (admitted, _) = flood(&mut full, alice, source(1), 0, u64::MAX);
    assert_eq!(
        full.admit(&body(0), alice, source(2), HEIGHT),
        Err(QueryError::Replayed)
    );
    assert_eq!(full.len() as u64, admitted);
}

#[test]
fn a_query_forgotten_unrun_may_come_again_and_costs_nothing() {
    let mut guard = ReplayGuard::default();
    let alice = Some(account(1));
    assert_eq!(guard.admit(&body(1), alice, source(1), HEIGHT), Ok(()));
    // The worker had no room to run it: it forgets the nonce and the charge.
    guard.forget(&body(1), alice);
    assert_eq!((guard.len(), guard.budgets()), (0, (0, 0)));
    // Forgetting what is not there, or another signer's nonce, changes nothing.
    assert_eq!(guard.admit(&body(1), alice, source(2), HEIGHT), Ok(()));
    guard.forget(&body(1), Some(account(2)));
    guard.forget(&body(1), None);
    assert_eq!(
        guard.admit(&body(1), alice, source(1), HEIGHT),
        Err(QueryError::Replayed)
    );
    assert_eq!((guard.len(), guard.budgets()), (1, (1, 1)));
    // And it is forgotten at its expiry as usual, once.
    let late = HEIGHT + MAX_QUERY_TTL + 1;
    let q = QueryBody {
        expires_at: late,
        ..body(2)
    };
    assert_eq!(guard.admit(&q, alice, source(2), late), Ok(()));
    assert_eq!((guard.len(), guard.budgets()), (1, (1, 1)));
}

#[test]
fn memory_stays_bounded_as_queries_expire() {
    let mut guard = ReplayGuard::default();
    let mut n = 0u64;
    // A thousand blocks of queries from 50 callers at 20 addresses, each valid as long as
    // allowed: what is remembered never exceeds one validity window's worth.
    for height in HEIGHT..HEIGHT + 1_000 {
        for c in 0..50u32 {
            n += 1;
            let q = QueryBody {
                expires_at: height + MAX_QUERY_TTL,
                ..body(n)
            };
            let from = source((c % 20) as u8);
            guard.admit(&q, Some(account(c)), from, height).unwrap();
        }
        assert!(guard.len() <= 50 * (MAX_QUERY_TTL as usize + 1));
    }
    assert_eq!(guard.budgets(), (50, 20));
    // Once everything expired, nothing is left, budgets included.
    let late = HEIGHT + 1_000 + MAX_QUERY_TTL + 1;
    let q = QueryBody {
        expires_at: late,
        ..body(u64::MAX)
    };
    guard.admit(&q, None, source(99), late).unwrap();
    assert_eq!(guard.len(), 1);
    assert_eq!(guard.budgets(), (1, 1));
}

#[test]
fn an_ipv6_host_is_one_source_across_its_network() {
    let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
    let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(Source::from(IpAddr::V6(a)), Source::from(IpAddr::V6(b)));
    assert_ne!(Source::from(IpAddr::V6(a)), Source::from(IpAddr::V6(other)));
    assert_eq!(Source::from(IpAddr::V6(a)).to_string(), "2001:db8:1:2::/64");
    // An IPv4 client is the same source over IPv4 or IPv4-mapped IPv6.
    let v4 = Ipv4Addr::new(198, 51, 100, 7);
    assert_eq!(
        Source::from(IpAddr::V4(v4)),
        Source::from(IpAddr::V6(v4.to_ipv6_mapped()))
    );
    assert_eq!(Source::from(IpAddr::V4(v4)).to_string(), "198.51.100.7");
    assert_ne!(
        Source::from(IpAddr::V4(v4)),
        Source::from(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 8)))
    );
}

/// The attack: one site's IPv6 allocation holds thousands of /64s (a /48 holds 65,536), each
/// a source of its own; together they would reach the global cap. Their network's budget
/// stops them first, and other networks are not affected.
#[test]
fn many_networks_of_one_site_fill_only_that_sites_budget() {
    let mut guard = ReplayGuard::default();
    let mut n = 0u64;
    let mut refused = None;
    // Anonymous queries: each /64 is a caller of its own, within its caller budget.
    for subnet in 0..=(MAX_NONCES_PER_NETWORK / MAX_NONCES_PER_CALLER) as u16 + 1 {
        let [hi, lo] = subnet.to_be_bytes();
        let ip = Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x42,
            u16::from_be_bytes([hi, lo]),
            0,
            0,
            0,
            1,
        );
        let (admitted, refusal) = flood(
            &mut guard,
            None,
            Source::from(IpAddr::V6(ip)),
            n,
            MAX_NONCES_PER_CALLER as u64,
        );
        n += admitted;
        if refusal.is_some() {
            refused = refusal;
            break;
        }
    }
    assert_eq!(
        refused,
        Some(QueryError::SourceBusy {
            limit: MAX_NONCES_PER_NETWORK
        })
    );
    assert_eq!(guard.len(), MAX_NONCES_PER_NETWORK);
    let elsewhere = Source::from(IpAddr::V6(Ipv6Addr::new(
        0x2001, 0xdb8, 0x43, 0, 0, 0, 0, 1,
    )));
    assert_eq!(guard.admit(&body(1 << 50), None, elsewhere, HEIGHT), Ok(()));
}
