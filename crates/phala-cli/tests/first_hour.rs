//! What a new user hits in the first hour, each as the command they typed (issue 15).

mod common;

use std::process::{Command, Output, Stdio};

const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
const ALICE_30: &str = "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2";

fn phala(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `phala key inspect 0x<public key>` printed a different account: the hex was read as a
/// secret seed.
#[test]
fn key_inspect_reads_a_hex_public_key_as_a_public_key() {
    let out = phala(&["key", "inspect", ALICE_HEX]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(ALICE_30), "{stdout}");
    assert!(stdout.starts_with("Public key"), "{stdout}");
    assert!(text(&out.stderr).contains("--secret"));

    // Asked for, the same hex is a seed: another account, and it says it read a secret.
    let out = phala(&["key", "inspect", "--secret", ALICE_HEX]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Secret Key URI"), "{stdout}");
    assert!(!stdout.contains(ALICE_30), "{stdout}");

    let out = phala(&["key", "inspect", "--public", "--secret", ALICE_HEX]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Where a script more likely passed a seed (JSON out, or an ed25519 scheme), the
    // ambiguity is refused rather than guessed.
    for extra in [&["--json"][..], &["--scheme", "ed25519"][..]] {
        let mut args = vec!["key", "inspect", ALICE_HEX];
        args.extend_from_slice(extra);
        let out = phala(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            text(&out.stderr).contains("--public or --secret"),
            "{extra:?}"
        );
        assert!(out.stdout.is_empty(), "{extra:?}");
    }
}

/// `phala balance //Bob | head -1` panicked with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    // The read end is gone before the command writes a byte, so every write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["key", "inspect", "//Alice"])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `transfer` said `--from` where every other command says `--suri`: both are accepted.
#[test]
fn transfer_takes_suri_like_every_other_command() {
    for flag in ["--from", "--suri"] {
        let out = phala(&[
            "transfer",
            flag,
            "//Alice",
            "//Bob",
            "1",
            "--url",
            "ws://127.0.0.1:1",
        ]);
        let stderr = text(&out.stderr);
        // Parsed, then refused for the unreachable node, not for its arguments.
        assert_eq!(out.status.code(), Some(1), "{flag}: {stderr}");
        assert!(stderr.contains("connection refused"), "{flag}: {stderr}");
    }
}

/// A second node on one machine failed on a taken port and still left a chain behind in its
/// base path: every port is now claimed before anything is written.
#[test]
fn a_node_that_cannot_listen_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let out = phala(&[
        "chain-spec",
        "--dev",
        "--validators",
        "1",
        "--out",
        spec.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let base = dir.path().join("bob");
    let out = phala(&[
        "node",
        "--chain",
        spec.to_str().unwrap(),
        "--validator",
        "//Alice",
        "--base-path",
        base.to_str().unwrap(),
        "--rpc-port",
        &port,
        "--prometheus-port",
        "0",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&port) && stderr.contains("--rpc-port"),
        "{stderr}"
    );
    assert!(!base.exists(), "{stderr}");
}

/// Against a devnet: commands that used to fail without a reason, or succeed doing nothing.
#[test]
fn against_a_devnet_each_refusal_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start(dir.path());
    let url = devnet.ws_url();
    let refused = |args: &[&str]| {
        let out = phala(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        stderr
    };

    // `phala query` where no worker listens said only "client error (Connect)".
    let nobody = format!("http://127.0.0.1:{}", common::free_port());
    let stderr = refused(&["query", "--url", &url, "--worker", &nobody]);
    assert!(
        stderr.contains("connection refused") && stderr.contains("phala workers"),
        "{stderr}"
    );

    // `validator withdraw` with nothing unlocked paid a fee and reported success.
    let stderr = refused(&["validator", "withdraw", "--suri", "//Eve", "--url", &url]);
    assert!(stderr.contains("nothing is unbonding"), "{stderr}");
    for step in [&["bond", "1000"][..], &["unbond", "1000"][..]] {
        let mut args = vec!["validator"];
        args.extend_from_slice(step);
        args.extend_from_slice(&["--suri", "//Eve", "--url", &url]);
        let out = phala(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let stderr = refused(&["validator", "withdraw", "--suri", "//Eve", "--url", &url]);
    assert!(
        stderr.contains("nothing to withdraw yet: 1000 PHA unlocks at block #"),
        "{stderr}"
    );

    // Standing with too small a bond said only `BondTooSmall`: now the minimum and what is
    // missing. (The devnet's minimum is the genesis bond, 100,000 PHA.)
    let stderr = refused(&[
        "validator",
        "validate",
        "--suri",
        "//Ferdie",
        "--consensus-key",
        "//Ferdie",
        "--p2p-address",
        "127.0.0.1:30999",
        "--url",
        &url,
    ]);
    assert!(
        stderr.contains("a candidate needs a bond of at least") && stderr.contains("0 PHA bonded"),
        "{stderr}"
    );

    // A transfer signed with a nonce from the future timed out without saying why.
    let stderr = refused(&[
        "transfer",
        "--suri",
        "//Dave",
        "//Bob",
        "1",
        "--nonce",
        "7",
        "--timeout",
        "3",
        "--url",
        &url,
    ]);
    assert!(
        stderr.contains("waits until every nonce before it is used"),
        "{stderr}"
    );

    // A dev account's name without the // of a secret URI.
    let stderr = refused(&["balance", "Alice", "--url", &url]);
    assert!(stderr.contains("written //Alice"), "{stderr}");
}

/// The README's contract examples pointed at `../shared/fixtures`, which only a development
/// checkout has: the CLI now carries the project's own example bundles.
#[test]
fn contract_example_writes_the_projects_own_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let out = phala(&["contract", "example", "--out", &out_dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["flipper", "erc20", "bridge_requester", "bridge_answerer"] {
        let written = std::fs::read_to_string(dir.path().join(format!("{name}.contract"))).unwrap();
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../examples/contracts/{name}.contract")),
        )
        .unwrap();
        assert_eq!(written, shipped, "{name}");
        let bundle = phala_ink_abi::Bundle::load(&dir.path().join(format!("{name}.contract")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(bundle.wasm.is_some(), "{name}");
    }
    // Nothing is overwritten unasked, and a typo names what there is.
    let again = phala(&["contract", "example", "flipper", "--out", &out_dir]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    let forced = phala(&[
        "contract", "example", "flipper", "--out", &out_dir, "--force",
    ]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    let typo = phala(&["contract", "example", "fliper", "--out", &out_dir]);
    assert!(!typo.status.success());
    assert!(
        text(&typo.stderr).contains("there are: flipper, erc20, bridge_requester, bridge_answerer"),
        "{}",
        text(&typo.stderr)
    );
}
