//! Starting real `phala` processes on loopback for end-to-end tests.
#![allow(dead_code)]

pub mod net;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;

/// A port free now on 127.0.0.1, for a process about to be started.
///
/// Ports are drawn at random below Linux's ephemeral range (32768–60999) rather than asked of
/// the kernel with port 0: a port from the ephemeral range can be taken as the local end of any
/// outgoing connection (tests running in parallel make thousands) between this call and the
/// child's own bind, and a node that cannot bind exits. A port is never handed out twice while
/// the test process that drew it lives, in any test binary: each draw is claimed by a file
/// in a directory all of them share, naming the process (a port is bound by its child only
/// later, and often bound again after a restart, so being free now is not enough).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let claims = std::env::temp_dir().join("phala-test-ports");
    let _ = std::fs::create_dir_all(&claims);
    let me = std::process::id();
    let seed = RandomState::new();
    for attempt in 0u64..10_000 {
        let port = 20_000 + (seed.hash_one(attempt) % 12_000) as u16;
        if !claim(&claims.join(port.to_string()), me)
            || TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err()
        {
            continue;
        }
        return port;
    }
    panic!("no free port between 20000 and 32000");
}

/// Two consecutive free ports, both claimed: for a devnet of two validators, whose RPC
/// ports follow `--rpc-port`.
pub fn free_port_pair() -> u16 {
    let claims = std::env::temp_dir().join("phala-test-ports");
    let me = std::process::id();
    for _ in 0..1_000 {
        let port = free_port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if claim(&claims.join(next.to_string()), me)
            && TcpListener::bind((Ipv4Addr::LOCALHOST, next)).is_ok()
        {
            return port;
        }
    }
    panic!("no two consecutive free ports");
}

/// Claims `path` for process `me`: created anew, or taken over from a process that is gone.
fn claim(path: &Path, me: u32) -> bool {
    use std::io::Write;
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut file) => return file.write_all(me.to_string().as_bytes()).is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = std::fs::read_to_string(path).unwrap_or_default();
                // Empty: its owner is writing its id this very moment.
                let alive = owner.trim().is_empty()
                    || owner
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                // Ours already (drawn twice in this process), or someone else's live claim.
                if alive {
                    return false;
                }
                let _ = std::fs::remove_file(path);
            }
            Err(_) => return false,
        }
    }
    false
}

/// A `phala devnet` process; killed when dropped.
pub struct Devnet {
    pub child: Child,
    pub rpc: SocketAddr,
    pub base: PathBuf,
    pub p2p_port: u16,
}

impl Devnet {
    /// Starts a devnet on `base` and waits (bounded) until its RPC answers.
    pub fn start(base: &Path) -> Devnet {
        Self::start_on(base, free_port(), free_port())
    }

    pub fn start_on(base: &Path, rpc_port: u16, p2p_port: u16) -> Devnet {
        Self::start_with(base, rpc_port, p2p_port, &[])
    }

    /// As [`start_on`](Self::start_on), with more `phala devnet` arguments.
    pub fn start_with(base: &Path, rpc_port: u16, p2p_port: u16, extra: &[&str]) -> Devnet {
        Self::start_env(base, rpc_port, p2p_port, extra, &[])
    }

    /// As [`start_with`](Self::start_with), with environment variables for the process.
    pub fn start_env(
        base: &Path,
        rpc_port: u16,
        p2p_port: u16,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Devnet {
        let child = Command::new(env!("CARGO_BIN_EXE_phala"))
            .envs(envs.iter().copied())
            .args(["devnet", "--base-path"])
            .arg(base)
            .args([
                "--rpc-port",
                &rpc_port.to_string(),
                "--prometheus-port",
                &free_port().to_string(),
            ])
            .args(["--p2p-port", &p2p_port.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(Self::log_path(base)).unwrap())
            .spawn()
            .expect("cannot start phala");
        let mut devnet = Devnet {
            child,
            rpc: SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port)),
            base: base.to_path_buf(),
            p2p_port,
        };
        devnet.wait_ready();
        devnet
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc)
    }

    pub fn http(&self) -> HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(format!("http://{}", self.rpc))
            .unwrap()
    }

    /// Where the devnet's stderr goes: in its base path.
    fn log_path(base: &Path) -> PathBuf {
        std::fs::create_dir_all(base).unwrap();
        base.join("devnet.log")
    }

    /// The devnet's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(Self::log_path(&self.base)).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = self.http();
        let start = Instant::now();
        runtime.block_on(async {
            loop {
                if let Ok(n) = finalized_number(&client).await
                    && n >= 1
                {
                    // Its stderr is a file: plain text, no terminal colour codes.
                    assert!(
                        !self.log().contains('\x1b'),
                        "the devnet's log file holds terminal escape codes:\n{}",
                        self.log()
                    );
                    return;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "devnet exited ({status}) before its first block:\n{}",
                        self.log()
                    );
                }
                assert!(
                    start.elapsed() < Duration::from_secs(90),
                    "devnet did not produce a block within 90 s; log:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn finalized_number(client: &HttpClient) -> Result<u32, jsonrpsee::core::ClientError> {
    let hash: String = client
        .request("chain_getFinalizedHead", rpc_params![])
        .await?;
    let header: serde_json::Value = client.request("chain_getHeader", rpc_params![hash]).await?;
    let number = header["number"]
        .as_str()
        .unwrap_or("0x0")
        .trim_start_matches("0x");
    Ok(u32::from_str_radix(number, 16).unwrap_or(0))
}

/// Waits until the chain has finalized at least `target`.
pub async fn wait_for_block(client: &HttpClient, target: u32) {
    let start = Instant::now();
    while finalized_number(client).await.unwrap_or(0) < target {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "chain did not reach #{target}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A signed `Balances::transfer_keep_alive` from `from` to //Bob, built by hand so tests can
/// forge every field (genesis, era, nonce).
pub fn signed_transfer(
    from: &str,
    nonce: u32,
    value: u128,
    era: phala_primitives::Era,
    genesis: phala_primitives::H256,
    birth: phala_primitives::H256,
) -> Vec<u8> {
    use parity_scale_codec::Encode;
    use phala_primitives::extrinsic::AdditionalSigned;
    use phala_primitives::{MultiAddress, SignedExtra};
    use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
    let signer = phala_keys::Sr25519Pair::from_uri(from).unwrap();
    let bob = phala_keys::Sr25519Pair::from_uri("//Bob")
        .unwrap()
        .account_id();
    let call = phala_runtime::RuntimeCall::Balances(
        phala_runtime::modules::balances::Call::transfer_keep_alive {
            dest: MultiAddress::Id(bob),
            value,
        },
    );
    let extra = SignedExtra { era, nonce, tip: 0 };
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: genesis,
        birth_hash: birth,
    };
    phala_runtime::UncheckedExtrinsic::new_signed_sr25519(
        call,
        signer.account_id(),
        extra,
        &additional,
        |m| signer.sign(m),
    )
    .encode()
}

pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", ::hex::encode(bytes))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// One plain HTTP/1.0 request to 127.0.0.1:`port`: the status and the body, or `None` if
/// the exchange fails.
pub async fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.ok()?;
    s.write_all(body).await.ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(out.get(9..12)?).ok()?.parse().ok()?;
    Some((status, out.get(split + 4..)?.to_vec()))
}

/// `phala gov submit --track <track> --call <call> --deposit --suri //Eve` on `url`, as a
/// user proposes a referendum with its decision deposit; its output.
pub fn submit_referendum(url: &str, track: &str, call: &str) -> String {
    phala_at(
        url,
        &[
            "gov",
            "submit",
            "--track",
            track,
            "--call",
            call,
            "--deposit",
            "--suri",
            "//Eve",
        ],
    )
    .unwrap_or_else(|e| panic!("submit: {e}"))
}

/// Runs `tests/polkadot-js/<script>` with Node.js against the unmodified @polkadot/api that
/// `scripts/test` installs (PHALA_NODE_MODULES); its stdout, or why it failed.
pub fn polkadot_js(script: &str, args: &[&str]) -> Result<String, String> {
    let Some(modules) = std::env::var_os("PHALA_NODE_MODULES").map(PathBuf::from) else {
        panic!(
            "PHALA_NODE_MODULES is not set: run the tests with scripts/test, which installs @polkadot/api"
        );
    };
    assert!(
        modules.join("@polkadot/api").exists(),
        "@polkadot/api is not installed in {}",
        modules.display()
    );
    // ESM resolves packages from the script's own directory upwards, so the script runs from
    // next to the installed node_modules.
    let script_dir = modules.parent().expect("node_modules has a parent");
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/polkadot-js");
    // The helpers every script imports go along, renamed into place: tests running at
    // once never let node read a half-copied file.
    let staging = script_dir.join(format!("common.mjs.{}", std::process::id()));
    std::fs::copy(scripts.join("common.mjs"), &staging).unwrap();
    std::fs::rename(&staging, script_dir.join("common.mjs")).unwrap();
    let copy = script_dir.join(script);
    std::fs::copy(scripts.join(script), &copy).unwrap();
    let output = Command::new("node")
        .arg(&copy)
        .args(args)
        .output()
        .expect("node (Node.js) is not installed");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs `phala ARGS --url URL` to the end: its stdout, or stdout and stderr if it failed.
pub fn phala_at(url: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(args)
        .args(["--url", url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Polls (bounded) until `f` is `Some`.
pub fn until<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The referendum's index in `phala gov submit`'s output.
pub fn referendum_index(out: &str) -> u32 {
    let at = out
        .find("Referendum #")
        .unwrap_or_else(|| panic!("no index in {out}"));
    out[at + "Referendum #".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Votes referendum `index` through: five dev accounts vote aye with conviction, and it
/// is awaited (bounded) until approved.
pub fn approve(url: &str, index: u32) {
    let index = index.to_string();
    // 35M of the devnet's 66M PHA that can vote: past the 50 % support at the start.
    for voter in ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve"] {
        phala_at(
            url,
            &[
                "gov",
                "vote",
                &index,
                "aye",
                "7000000",
                "--conviction",
                "1x",
                "--suri",
                voter,
            ],
        )
        .unwrap_or_else(|e| panic!("vote by {voter}: {e}"));
    }
    until("the referendum's approval", 90, || {
        let out = phala_at(url, &["gov", "status", &index]).unwrap();
        assert!(
            !out.contains("rejected") && !out.contains("timed out"),
            "{out}"
        );
        out.contains("approved").then_some(())
    });
}
