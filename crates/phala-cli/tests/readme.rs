//! The README, followed as a new user follows it: every ```sh block of README.md runs, in
//! order, exactly as written, in one fresh directory and one shell (so a variable set in one
//! block is there in the next), with this checkout's `phala` first on PATH.
//!
//! The only things added are what a person at a terminal does by hand:
//! - A long-running command (`phala devnet`, `phala node`, `phala worker`, `phala
//!   explorer`) runs in the
//!   background, and the next line waits until it is ready, as a person waits for its output
//!   (its RPC answers; its workers registered, its cluster made; a gatekeeper holds the
//!   master key). Its servers stop at the end of its block.
//! - A comment just above a block may say `<!-- test: skip (why) -->` (the block needs other
//!   hosts or hardware, or takes too long; it is reported by name), `<!-- test: with CMD -->`
//!   (the block expects CMD running, as "With a devnet running" says) or `<!-- test: keep
//!   servers -->` (the next block uses this block's servers; they stop after it).
//!
//! The examples use the default ports (9944, 9615, 8000, 30333, …) as a reader would, so
//! nextest runs this test alone (`.config/nextest.toml`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// All of the README, servers included, must be done by then.
const DEADLINE: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, PartialEq)]
enum Directive {
    None,
    Skip(String),
    With(String),
    KeepServers,
}

#[derive(Debug)]
struct Block {
    /// README line of the opening fence.
    line: usize,
    directive: Directive,
    /// Commands with the README line each starts on; continued lines (`\`) stay joined.
    commands: Vec<(usize, String)>,
}

fn parse(readme: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut last_comment: Option<(usize, String)> = None;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<!-- test:") {
            let body = rest
                .strip_suffix("-->")
                .ok_or_else(|| format!("README.md:{n}: a test directive ends on its own line"))?;
            last_comment = Some((n, body.trim().to_string()));
            continue;
        }
        if !trimmed.starts_with("```") {
            if !trimmed.is_empty() {
                last_comment = None;
            }
            continue;
        }
        let info = trimmed.trim_start_matches('`').trim();
        // Skip the other fenced blocks (js, text) to their closing fence.
        let mut body = Vec::new();
        for (m, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push((m, inner.to_string()));
        }
        let directive = match last_comment.take() {
            None => Directive::None,
            Some((m, text)) => directive(&text).map_err(|e| format!("README.md:{m}: {e}"))?,
        };
        if info != "sh" {
            if directive != Directive::None {
                return Err(format!(
                    "README.md:{n}: a test directive above a {info} block"
                ));
            }
            continue;
        }
        let mut commands: Vec<(usize, String)> = Vec::new();
        let mut continued = false;
        for (m, text) in body {
            if continued {
                if let Some((_, last)) = commands.last_mut() {
                    last.push('\n');
                    last.push_str(&text);
                }
            } else if !text.trim().is_empty() && !text.trim_start().starts_with('#') {
                commands.push((m, text.clone()));
            }
            continued = text.trim_end().ends_with('\\');
        }
        blocks.push(Block {
            line: n,
            directive,
            commands,
        });
    }
    Ok(blocks)
}

fn directive(text: &str) -> Result<Directive, String> {
    if let Some(reason) = text.strip_prefix("skip") {
        let reason = reason.trim().trim_start_matches('(').trim_end_matches(')');
        if reason.is_empty() {
            return Err("a skipped block says why: skip (reason)".into());
        }
        return Ok(Directive::Skip(reason.to_string()));
    }
    if let Some(command) = text.strip_prefix("with ") {
        return Ok(Directive::With(command.trim().to_string()));
    }
    if text == "keep servers" {
        return Ok(Directive::KeepServers);
    }
    Err(format!("unknown test directive {text:?}"))
}

/// The shell words of a command, without leading `NAME=value` assignments and comments.
fn words(command: &str) -> Vec<String> {
    command
        .split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter(|w| *w != "\\")
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .map(str::to_string)
        .collect()
}

fn flag<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| w == name)
        .and_then(|i| words.get(i + 1))
        .map(String::as_str)
}

/// For a command that serves until stopped, the shell that waits until it is ready.
fn readiness(command: &str) -> Option<String> {
    let w = words(command);
    if w.first().map(String::as_str) != Some("phala") {
        return None;
    }
    let rpc = flag(&w, "--rpc-port").unwrap_or("9944");
    let has = |f: &str| w.iter().any(|x| x == f);
    let mut wait = String::new();
    match w.get(1).map(String::as_str) {
        Some("devnet") => {
            wait.push_str("__until 120 'the devnet to start' __has 'Press Ctrl-C'\n");
            let workers: usize = flag(&w, "--workers")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if workers > 0 && has("--no-cluster") {
                let _ = writeln!(
                    wait,
                    "__until 240 'its {workers} workers to register' __count_workers {workers} {rpc}"
                );
            } else if workers > 0 {
                wait.push_str("__until 300 'its cluster' __has 'cluster 0x.* ready'\n");
            }
            if workers > 0 && has("--analytics-demo") {
                wait.push_str("__until 300 'the analytics demo' __has 'analytics demo: site'\n");
            }
            if workers > 0 && has("--computing") {
                let _ = writeln!(
                    wait,
                    "__until 300 'its {workers} workers computing' __count_lines 'computes with' {workers}"
                );
            }
        }
        Some("node") => {
            let _ = writeln!(wait, "__until 120 'RPC on port {rpc}' __rpc_up {rpc}");
            if has("--gatekeeper") {
                let _ = writeln!(wait, "__until 240 'its gatekeeper' __gatekeeper_up {rpc}");
            }
        }
        Some("explorer") => {
            let listen = flag(&w, "--listen").unwrap_or("127.0.0.1:8080");
            let _ = writeln!(
                wait,
                "__until 60 'the explorer on {listen}' curl -sf -m 2 http://{listen}/api/status"
            );
        }
        Some("worker") => {
            let listen = flag(&w, "--listen").unwrap_or("127.0.0.1:8000");
            let node = flag(&w, "--node").unwrap_or("ws://127.0.0.1:9944");
            let _ = writeln!(
                wait,
                "__until 240 'the worker on {listen} to register' __registered {listen} {node}"
            );
        }
        _ => return None,
    }
    Some(wait)
}

/// Single-quoted for the shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

const PRELUDE: &str = r#"set -eEuo pipefail
set -m  # each background server in a process group of its own, so it stops with its children
__servers=()
__n=0
__line=0
__stop_servers() {
  local p
  for p in "${__servers[@]}"; do kill -INT -- "-$p" 2>/dev/null || true; done
  for p in "${__servers[@]}"; do
    for _ in $(seq 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$p" 2>/dev/null || true
  done
  __servers=()
  : >"$__logs/pgids"  # all stopped: nothing for the test to kill (their ids may be reused)
}
trap 'echo "readme-test: README.md:$__line failed" >&2' ERR
trap '__stop_servers' EXIT
trap '__stop_servers; exit 130' INT TERM
__serve() {
  __n=$((__n + 1))
  echo "readme-test: README.md:$__line runs in the background (log server-$__n.log)"
  eval "$1" >"$__logs/server-$__n.log" 2>&1 &
  __servers+=("$!")
  # For the test to stop, whatever becomes of this shell.
  echo "$!" >>"$__logs/pgids"
}
__until() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${__servers[-1]}" 2>/dev/null; then
      echo "readme-test: README.md:$__line stopped while waiting for $what:" >&2
      tail -n 40 "$__logs/server-$__n.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "readme-test: README.md:$__line: gave up after ${secs}s waiting for $what:" >&2
  tail -n 40 "$__logs/server-$__n.log" >&2
  return 1
}
__has() { grep -q "$1" "$__logs/server-$__n.log"; }
__count_lines() { [ "$(grep -c "$1" "$__logs/server-$__n.log")" -ge "$2" ]; }
__rpc_up() {
  curl -sf -m 2 -H 'Content-Type: application/json' \
    -d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' "http://127.0.0.1:$1"
}
__count_workers() {
  [ "$(phala workers --role worker -q --url "ws://127.0.0.1:$2" | wc -l)" -ge "$1" ]
}
__gatekeeper_up() {
  phala gatekeepers --url "ws://127.0.0.1:$1" | grep -q '^master key: version'
}
__registered() { phala workers --api "http://$1" -q --url "$2" | grep -q 0x; }
"#;

fn script(blocks: &[Block], logs: &Path) -> String {
    let mut out = format!("__logs={}\n{PRELUDE}", quote(&logs.display().to_string()));
    for block in blocks {
        let _ = writeln!(out, "\n# README.md:{}", block.line);
        if let Directive::Skip(reason) = &block.directive {
            let _ = writeln!(
                out,
                "echo {}",
                quote(&format!(
                    "readme-test: README.md:{} skipped: {reason}",
                    block.line
                ))
            );
            continue;
        }
        let _ = writeln!(
            out,
            "echo {}",
            quote(&format!("readme-test: README.md:{}", block.line))
        );
        let mut commands: Vec<(usize, String)> = Vec::new();
        if let Directive::With(command) = &block.directive {
            commands.push((block.line, command.clone()));
        }
        commands.extend(block.commands.iter().cloned());
        for (line, command) in commands {
            let _ = writeln!(out, "__line={line}");
            match readiness(&command) {
                Some(wait) => {
                    let _ = writeln!(out, "__serve {}", quote(&command));
                    out.push_str(&wait);
                }
                None => {
                    let _ = writeln!(out, "echo {}", quote(&format!("$ {command}")));
                    out.push_str(&command);
                    out.push('\n');
                }
            }
        }
        // Kept servers serve the next block too, and stop with its own.
        if block.directive != Directive::KeepServers {
            out.push_str("__stop_servers\n");
        }
    }
    out.push_str("echo 'readme-test: every example ran'\n");
    out
}

/// How long the shell gets to stop its servers after the deadline.
const STOP_GRACE: Duration = Duration::from_secs(40);

fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Kills every server the script started, however the test ends (a panic included): each
/// runs in a process group of its own, listed in this file.
struct Servers(PathBuf);

impl Drop for Servers {
    fn drop(&mut self) {
        let list = std::fs::read_to_string(&self.0).unwrap_or_default();
        for pgid in list.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
            signal_group("-KILL", pgid);
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_block_is_run_or_skipped_with_a_reason() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = parse(&readme).unwrap();
    assert!(blocks.len() >= 10, "{blocks:#?}");
    let skipped: Vec<_> = blocks
        .iter()
        .filter_map(|b| match &b.directive {
            Directive::Skip(reason) => Some((b.line, reason.clone())),
            _ => None,
        })
        .collect();
    // Few blocks are skipped, and none for a reason that would hide a broken example.
    assert!(skipped.len() <= 4, "{skipped:?}");
    // Nothing points outside the repository.
    assert!(
        !readme.contains("shared/fixtures"),
        "the README needs files outside the repository"
    );
    assert!(directive("skip").is_err());
    assert!(directive("later").is_err());
    assert_eq!(
        words("PHALA_VALIDATOR=//Eve phala node --rpc-port 9948 # x"),
        ["phala", "node", "--rpc-port", "9948"]
    );
    assert!(readiness("phala contract example").is_none());
    assert!(
        readiness("phala devnet --workers 2 --no-cluster")
            .unwrap()
            .contains("__count_workers 2")
    );
}

#[test]
fn the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = parse(&readme).unwrap_or_else(|e| panic!("{e}"));
    let ports = [
        9944, 9945, 9946, 9947, 9948, 9615, 9616, 8000, 8001, 8100, 8088, 8089,
    ];
    for port in ports.into_iter().chain(30333..=30337) {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            panic!(
                "the README's examples use port {port}, and something on this machine holds it: \
                 stop it (a devnet of your own?) and run this test again"
            );
        }
    }
    let work = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let script_path = logs.path().join("readme.sh");
    std::fs::write(&script_path, script(&blocks, logs.path())).unwrap();
    let output_path = logs.path().join("output.log");
    let output = std::fs::File::create(&output_path).unwrap();
    let phala = PathBuf::from(env!("CARGO_BIN_EXE_phala"));
    let bin = phala.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new("bash")
            .arg(&script_path)
            .current_dir(work.path())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env_remove("PHALA_SURI")
            .env_remove("PHALA_VALIDATOR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let _servers = Servers(logs.path().join("pgids"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            // TERM lets the shell stop its servers; what is left is killed with the guard.
            signal_group("-TERM", child.id());
            let stopping = Instant::now();
            while child.try_wait().unwrap().is_none() && stopping.elapsed() < STOP_GRACE {
                std::thread::sleep(Duration::from_millis(200));
            }
            signal_group("-KILL", child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&output_path).unwrap_or_default();
    if status.is_some_and(|s| s.success()) {
        println!("{text}");
        return;
    }
    let mut report = String::new();
    for entry in std::fs::read_dir(logs.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("server-") {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let _ = write!(report, "\n--- {name} (last lines)\n{}\n", tail.join("\n"));
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let shown = lines[lines.len().saturating_sub(200)..].join("\n");
    panic!(
        "{}\n--- output (last 200 lines)\n{shown}\n{report}",
        match status {
            None => format!("the README did not finish within {DEADLINE:?}"),
            Some(s) => format!("the README's examples failed ({s})"),
        }
    );
}
