//! A whole `phala devnet` in its own process, with its log in a file: started, waited on
//! line by line, killed (SIGKILL) and started again from its base path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
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
