//! A whole `phala devnet` in its own process, with its log in a file: started, waited on
//! line by line, killed (SIGKILL) and started again from its base path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Net {
    workers: u16,
    extra: Vec<String>,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    rpc: u16,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Net {
    /// `phala devnet --workers <workers>` (on free ports) with its base path under `dir`.
    pub fn start(dir: &Path, workers: u16) -> Net {
        Self::start_with(dir, workers, &[])
    }

    /// As [`Net::start`], with more `phala devnet` arguments (kept for restarts).
    pub fn start_with(dir: &Path, workers: u16, extra: &[&str]) -> Net {
        let log = dir.join("devnet.log");
        let rpc = super::free_port();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = Self::spawn(dir, &log, rpc, workers, &extra);
        Net {
            workers,
            extra,
            child,
            dir: dir.to_path_buf(),
            log,
            rpc,
        }
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Where its base path and log are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// SIGKILL, then the same devnet again from its base path (a fresh log).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(&self.dir, &self.log, self.rpc, self.workers, &self.extra);
    }

    fn spawn(dir: &Path, log: &Path, rpc: u16, workers: u16, extra: &[String]) -> Child {
        let file = std::fs::File::create(log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_phala"))
            .args([
                "devnet",
                "--workers",
                &workers.to_string(),
                "--worker-port",
                "0",
                "--base-path",
            ])
            .arg(dir.join("chain"))
            .args(["--rpc-port", &rpc.to_string()])
            .args(["--prometheus-port", &super::free_port().to_string()])
            .args(["--p2p-port", &super::free_port().to_string()])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("cannot start phala devnet")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.rpc)
    }

    /// Runs `phala contract …` against this devnet; its stdout, or its error text.
    pub fn contract(&self, args: &[&str]) -> Result<String, String> {
        super::phala_at(&self.url(), &[&["contract"], args].concat())
    }

    /// `phala contract … --json`, which must succeed: its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.contract(&args).unwrap_or_else(|e| {
            panic!(
                "phala contract {args:?}: {e}\nlog tail:\n{}",
                tail(&self.log())
            )
        });
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Instantiates `bundle` with constructor `args` as //Charlie, which must succeed: the
    /// contract's id.
    pub fn instantiate(&self, bundle: &str, args: &str) -> String {
        let made = self.json(&["instantiate", bundle, "--suri", "//Charlie", "--args", args]);
        assert_eq!(made["status"], "Success", "{made:#}");
        made["contract"].as_str().unwrap().to_string()
    }

    /// Calls `message` of `contract` as //Charlie, which must succeed: the command's output.
    pub fn call(&self, bundle: &str, contract: &str, message: &str) -> serde_json::Value {
        let out = self.json(&[
            "call",
            bundle,
            "--contract",
            contract,
            "--message",
            message,
            "--suri",
            "//Charlie",
        ]);
        assert_eq!(out["status"], "Success", "{out:#}");
        out
    }

    /// Queries `message` of `contract` on `worker`: the answer, or the error text.
    pub fn query(
        &self,
        bundle: &str,
        contract: &str,
        message: &str,
        worker: &str,
    ) -> Result<serde_json::Value, String> {
        let out = self.contract(&[
            "query",
            bundle,
            "--contract",
            contract,
            "--message",
            message,
            "--worker",
            worker,
        ])?;
        serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
    }

    /// Waits (bounded) for a line of the devnet's output containing `needle`.
    pub async fn line(&mut self, needle: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the devnet exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no {needle:?} within {secs} s; log tail:\n{}",
                tail(&self.log())
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The last 40 lines of a log.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The port of the first `http://127.0.0.1:PORT` in a line.
pub fn port_of(line: &str) -> u16 {
    line.split("http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A bundle of the project's own `examples/contracts`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/contracts")
        .join(name)
        .display()
        .to_string()
}

/// A compiled contract of ../shared/fixtures/contracts.
pub fn fixture(name: &str) -> String {
    phala_vm::contract_fixtures_dir()
        .join(name)
        .display()
        .to_string()
}

/// A worker's `/info`.
pub async fn worker_info(port: u16) -> serde_json::Value {
    let (_, body) = super::http(port, "GET", "/info", &[])
        .await
        .expect("worker /info");
    serde_json::from_slice(&body).unwrap()
}

/// `phala worker` on `port` (simulated TEE, operated by //Bob) following `url`, with its
/// sealed state in `base` and its log in `base`.log; added to a cluster, it fetches the
/// cluster's state from `peer` (a member's API).
pub fn start_worker(url: &str, base: &Path, port: u16, peer: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["worker", "--node", url, "--base-path"])
        .arg(base)
        .args(["--operator", "//Bob", "--tee", "simulated", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--cluster-peer", peer])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(base.with_extension("log")).unwrap())
        .spawn()
        .expect("cannot start phala worker")
}

/// Waits (bounded) until the worker on `port` shows `/info` satisfying `ok`.
pub async fn wait_info(
    port: u16,
    what: &str,
    log: &Path,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some((_, body)) = super::http(port, "GET", "/info", &[]).await
            && let Ok(info) = serde_json::from_slice::<serde_json::Value>(&body)
            && ok(&info)
        {
            return info;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the worker on {port}: {what} within 180 s; its log:\n{}",
            tail(&std::fs::read_to_string(log).unwrap_or_default())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
