//! The devnet's layout, resolved without starting anything.

use super::*;

/// Hands out 40000, 40001, … as "free" ports.
fn ports() -> impl FnMut() -> Result<u16, DevnetError> {
    let mut next = 40_000u16;
    move || {
        next += 1;
        Ok(next - 1)
    }
}

fn plan(args: &DevnetArgs) -> Result<DevnetPlan, DevnetError> {
    DevnetPlan::resolve(args, Path::new("/data"), true, None, &mut ports())
}

fn rpc_ports(plan: &DevnetPlan) -> Vec<(String, u16)> {
    plan.nodes
        .iter()
        .map(|(n, c)| (n.clone(), c.rpc_addr.port()))
        .collect()
}

#[test]
fn the_default_devnet_is_alice_with_her_gatekeeper() {
    let plan = plan(&DevnetArgs::default()).unwrap();
    assert!(plan.new_spec);
    assert_eq!(plan.spec.validators.len(), 1);
    // The spec's p2p port is the first free one.
    assert_eq!(plan.spec.validators[0].p2p_address, "127.0.0.1:40000");
    assert_eq!(rpc_ports(&plan), [("Alice".to_string(), 9944)]);
    let (_, alice) = &plan.nodes[0];
    assert!(alice.validator.is_some());
    assert_eq!(alice.prometheus_addr.unwrap().port(), 9615);
    assert_eq!(alice.pruning, Some(4096));
    assert_eq!(alice.base_path, Path::new("/data/alice"));
    assert!(alice.rpc_addr.ip().is_loopback());
    assert_eq!(
        plan.gatekeepers,
        [GatekeeperPlan {
            validator: "Alice".into(),
            base_path: "/data/alice/gatekeeper".into(),
            listen: loopback(40_001),
        }]
    );
    assert!(plan.workers.is_empty());
    assert!(!plan.cluster);
}

#[test]
fn nodes_workers_and_gatekeepers_take_consecutive_ports() {
    let args = DevnetArgs {
        validators: 4,
        full_nodes: 2,
        workers: 3,
        gatekeeper_port: Some(9000),
        rpc_external: true,
        ..DevnetArgs::default()
    };
    let plan = plan(&args).unwrap();
    let names: Vec<_> = ["Alice", "Bob", "Charlie", "Dave", "full-1", "full-2"]
        .iter()
        .zip(9944..)
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    assert_eq!(rpc_ports(&plan), names);
    let prometheus: Vec<u16> = plan
        .nodes
        .iter()
        .map(|(_, c)| c.prometheus_addr.unwrap().port())
        .collect();
    assert_eq!(prometheus, [9615, 9616, 9617, 9618, 9619, 9620]);
    assert!(
        plan.nodes
            .iter()
            .all(|(_, c)| c.rpc_addr.ip().is_unspecified())
    );
    // Workers sync from genesis through Alice, who keeps every state.
    assert_eq!(plan.nodes[0].1.pruning, None);
    assert_eq!(plan.nodes[1].1.pruning, Some(4096));
    // Full nodes listen for p2p on free ports, after the spec's four.
    assert!(plan.nodes[4].1.validator.is_none());
    assert_eq!(plan.nodes[4].1.p2p_listen, Some(loopback(40_004)));
    assert_eq!(plan.nodes[5].1.p2p_listen, Some(loopback(40_005)));
    let workers: Vec<_> = plan
        .workers
        .iter()
        .map(|w| (w.operator.as_str(), w.listen.port()))
        .collect();
    assert_eq!(workers, [("Alice", 8000), ("Bob", 8001), ("Charlie", 8002)]);
    assert_eq!(plan.workers[2].base_path, Path::new("/data/worker-3"));
    let gatekeepers: Vec<u16> = plan.gatekeepers.iter().map(|g| g.listen.port()).collect();
    assert_eq!(gatekeepers, [9000, 9001, 9002, 9003]);
    assert!(plan.cluster);
}

#[test]
fn gatekeepers_and_clusters_can_be_left_out() {
    let args = DevnetArgs {
        workers: 2,
        worker_port: 0,
        no_cluster: true,
        ..DevnetArgs::default()
    };
    let no_cluster = plan(&args).unwrap();
    assert!(!no_cluster.cluster);
    // --worker-port 0: free ports.
    assert_eq!(no_cluster.workers[0].listen, loopback(40_001));
    let args = DevnetArgs {
        workers: 2,
        no_gatekeepers: true,
        ..DevnetArgs::default()
    };
    let no_gatekeepers = plan(&args).unwrap();
    assert!(no_gatekeepers.gatekeepers.is_empty());
    assert!(!no_gatekeepers.cluster);
}

#[test]
fn a_saved_spec_is_resumed_and_must_match_the_validators() {
    let first = plan(&DevnetArgs {
        validators: 2,
        ..DevnetArgs::default()
    })
    .unwrap();
    let args = DevnetArgs {
        validators: 2,
        p2p_port: Some(31_000),
        ..DevnetArgs::default()
    };
    let again = DevnetPlan::resolve(
        &args,
        Path::new("/data"),
        true,
        Some(first.spec.clone()),
        &mut ports(),
    )
    .unwrap();
    assert!(!again.new_spec);
    assert_eq!(again.spec.to_json(), first.spec.to_json());
    let err = DevnetPlan::resolve(
        &DevnetArgs::default(),
        Path::new("/data"),
        true,
        Some(first.spec),
        &mut ports(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("--validators 2"), "{err}");
}

#[test]
fn bad_counts_and_ports_are_refused_before_anything_starts() {
    for (args, needle) in [
        (
            DevnetArgs {
                validators: 0,
                ..DevnetArgs::default()
            },
            "--validators must be 1 to 6",
        ),
        (
            DevnetArgs {
                validators: 7,
                ..DevnetArgs::default()
            },
            "--validators must be 1 to 6",
        ),
        (
            DevnetArgs {
                workers: MAX_DEVNET_WORKERS + 1,
                ..DevnetArgs::default()
            },
            "--workers must be at most",
        ),
        (
            DevnetArgs {
                full_nodes: phala_node::MAX_FOLLOWERS + 1,
                ..DevnetArgs::default()
            },
            "--full-nodes must be at most",
        ),
        (
            DevnetArgs {
                validators: 2,
                rpc_port: u16::MAX,
                ..DevnetArgs::default()
            },
            "out of range",
        ),
        (
            DevnetArgs {
                analytics_demo: true,
                ..DevnetArgs::default()
            },
            "--analytics-demo needs workers",
        ),
    ] {
        let err = plan(&args).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
}

/// A second `phala devnet` printed its accounts and "Press Ctrl-C" before failing on a port
/// the first one held: the ports are checked first, and the message names the flag.
#[test]
fn a_taken_port_is_refused_with_the_flag_that_moves_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (free(), free());
    let (p2p, prometheus) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    drop((a, b));
    let args = DevnetArgs {
        rpc_port: port,
        prometheus_port: prometheus,
        p2p_port: Some(p2p),
        no_gatekeepers: true,
        ..DevnetArgs::default()
    };
    let err = plan(&args).unwrap().check_ports().unwrap_err().to_string();
    assert!(
        err.contains(&format!("RPC port {port}")) && err.contains("--rpc-port"),
        "{err}"
    );
    let args = DevnetArgs {
        rpc_port: prometheus,
        prometheus_port: port,
        ..args
    };
    let err = plan(&args).unwrap().check_ports().unwrap_err().to_string();
    assert!(err.contains("--prometheus-port"), "{err}");
}
