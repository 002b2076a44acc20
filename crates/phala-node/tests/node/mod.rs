//! Running whole nodes in-process on loopback for tests: start on a thread, wait until ready,
//! stop cleanly.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

use phala_node::{NodeConfig, NodeError, NodeInfo};

pub fn free_addr() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
}

pub struct Running {
    pub info: NodeInfo,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), NodeError>>,
}

impl Running {
    /// Stops the node and waits for it to close its storage; panics if it had failed.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap().unwrap();
    }
}

/// Starts a node on its own thread and waits (bounded) until its RPC is up.
pub fn start(config: NodeConfig) -> Running {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        phala_node::run_until(
            config,
            move |info| {
                let _ = ready_tx.send(info.clone());
            },
            async move {
                let _ = stop_rx.await;
            },
        )
    });
    let info = ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("node did not start");
    Running { info, stop, thread }
}
