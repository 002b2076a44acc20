;; flipper: one boolean, flipped by a command and read by a query.
;;
;; Hand-written against the ink! 4 ABI, so every tool that speaks to a compiled ink! flipper
;; (cargo-contract, polkadot.js's api-contract, `phala contract`) speaks to this one: the same
;; selectors, the same SCALE arguments and results, the same storage layout (the `Flipper`
;; struct at root key 0x00000000). `flipper.metadata.json` describes it; the test
;; `example_bundles_are_built_from_their_sources` (crates/phala-vm) assembles both into
;; `flipper.contract`.
;;
;; Memory: 0..4 the root key (zero), 16 the stored value, 20 its length, 32..34 the output,
;; 64 the input length, 128.. the input (256 bytes at most).
(module
  (import "seal0" "input" (func $input (param i32 i32)))
  (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
  (import "seal1" "get_storage" (func $get_storage (param i32 i32 i32 i32) (result i32)))
  (import "seal2" "set_storage" (func $set_storage (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 2 16))

  ;; Selectors as little-endian i32s of their four bytes.
  (global $NEW i32 (i32.const 0x5e9dae9b))         ;; 0x9bae9d5e new(init_value: bool)
  (global $NEW_DEFAULT i32 (i32.const 0x3e7eef61)) ;; 0x61ef7e3e new_default()
  (global $FLIP i32 (i32.const 0x51a53a63))        ;; 0x633aa551 flip()
  (global $GET i32 (i32.const 0xd95b862f))         ;; 0x2f865bd9 get() -> bool

  ;; Reads the call data; returns its length.
  (func $read_input (result i32)
    (i32.store (i32.const 64) (i32.const 256))
    (call $input (i32.const 128) (i32.const 64))
    (i32.load (i32.const 64)))

  ;; Err(LangError::CouldNotReadInput), reverted: what ink! answers to an unknown selector
  ;; or arguments that do not decode.
  (func $could_not_read_input
    (i32.store16 (i32.const 32) (i32.const 0x0101))
    (call $return (i32.const 1) (i32.const 32) (i32.const 2)))

  ;; Ok(()) for a constructor or a message returning nothing.
  (func $ok_unit
    (i32.store8 (i32.const 32) (i32.const 0))
    (call $return (i32.const 0) (i32.const 32) (i32.const 1)))

  (func $store (param $value i32)
    (i32.store8 (i32.const 16) (local.get $value))
    (drop (call $set_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 1))))

  ;; The stored value; a missing or malformed one traps, as ink! panics on it.
  (func $load (result i32)
    (local $value i32)
    (i32.store (i32.const 20) (i32.const 1))
    (if (call $get_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 20))
      (then (unreachable)))
    (if (i32.ne (i32.load (i32.const 20)) (i32.const 1)) (then (unreachable)))
    (local.set $value (i32.load8_u (i32.const 16)))
    (if (i32.gt_u (local.get $value) (i32.const 1)) (then (unreachable)))
    (local.get $value))

  (func (export "deploy")
    (local $len i32)
    (local $arg i32)
    (local.set $len (call $read_input))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $NEW))
      (then
        (if (i32.ne (local.get $len) (i32.const 5)) (then (call $could_not_read_input)))
        (local.set $arg (i32.load8_u (i32.const 132)))
        (if (i32.gt_u (local.get $arg) (i32.const 1)) (then (call $could_not_read_input)))
        (call $store (local.get $arg))
        (call $ok_unit)))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $NEW_DEFAULT))
      (then
        (if (i32.ne (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
        (call $store (i32.const 0))
        (call $ok_unit)))
    (call $could_not_read_input))

  (func (export "call")
    (if (i32.ne (call $read_input) (i32.const 4)) (then (call $could_not_read_input)))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $FLIP))
      (then
        (call $store (i32.xor (call $load) (i32.const 1)))
        (call $ok_unit)))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $GET))
      (then
        ;; Ok(value)
        (i32.store8 (i32.const 32) (i32.const 0))
        (i32.store8 (i32.const 33) (call $load))
        (call $return (i32.const 0) (i32.const 32) (i32.const 2))))
    (call $could_not_read_input))
)
