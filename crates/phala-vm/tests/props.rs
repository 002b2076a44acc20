//! Whatever bytes arrive as code, call data or chain-extension input, the VM answers with a
//! result or an error and never panics.

mod harness;

use harness::*;
use phala_vm::{Entry, Mode};
use proptest::prelude::*;

/// Calls `call_chain_extension(id, input)` with its own call data: 4 bytes of id, then the
/// extension's input.
const EXT_CALLER: &str = r#"(module
    (import "seal0" "input" (func $input (param i32 i32)))
    (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
    (import "seal0" "call_chain_extension" (func $ext (param i32 i32 i32 i32 i32) (result i32)))
    (import "env" "memory" (memory 2 16))
    (func (export "deploy"))
    (func (export "call")
        (i32.store (i32.const 0) (i32.const 60000))
        (call $input (i32.const 16) (i32.const 0))
        (i32.store (i32.const 4) (i32.const 16384))
        (i32.store (i32.const 8)
            (call $ext (i32.load (i32.const 16)) (i32.const 20)
                (i32.sub (i32.load (i32.const 0)) (i32.const 4))
                (i32.const 65536) (i32.const 4)))
        (call $return (i32.const 0) (i32.const 8) (i32.const 4))))"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_code_is_refused_or_accepted_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut code = b"\0asm\x01\0\0\0".to_vec();
        code.extend(bytes);
        let _ = phala_vm::validate(&code);
    }

    #[test]
    fn mutated_contracts_never_panic_the_validator(index in 0usize..12_526, byte in any::<u8>()) {
        let mut code = fixture_wasm("ink4_flipper.contract.json");
        let len = code.len();
        code[index % len] = byte;
        let _ = phala_vm::validate(&code);
    }

    #[test]
    fn arbitrary_call_data_gives_a_result(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut cluster = Cluster::new();
        let token = cluster.deploy("ink4_erc20.contract.json", "9bae9d5e", &[0; 16]);
        let outcome = cluster.run(Mode::Transaction, ALICE, Entry::Call { contract: token, input }, GAS);
        // Garbage is refused by ink!'s dispatcher (REVERT) or traps; it never changes state.
        if outcome.is_success() {
            prop_assert!(outcome.changes.storage.keys().all(|(c, _)| *c == token));
        }
    }

    #[test]
    fn arbitrary_extension_input_gives_a_result(
        func in 0u32..30,
        mode in prop_oneof![Just(Mode::Query), Just(Mode::Transaction)],
        input in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut cluster = Cluster::new();
        let code = cluster.upload(&wat::parse_str(EXT_CALLER).unwrap());
        let contract = cluster.instantiate(ALICE, code, vec![]);
        let mut data = func.to_le_bytes().to_vec();
        data.extend(input);
        let _ = cluster.run(mode, ALICE, Entry::Call { contract, input: data }, GAS);
    }
}
