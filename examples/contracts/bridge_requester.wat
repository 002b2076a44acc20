;; bridge_requester: asks a contract on another phala chain a question through the bridge,
;; and keeps the answer when it comes back.
;;
;; Hand-written against the ink! 4 ABI (like `flipper.wat`).
;;
;; - `ask(channel: u32, contract: AccountId, question: Vec<u8>) -> u32` sends, with
;;   `seal0.xcm_send`, the call `answer(question)` to `contract` on the chain at the other end
;;   of this chain's bridge channel `channel`, and asks for the outcome back. It returns the
;;   query id the outcome will carry.
;;   - dest: XCM v4 `Location { parents: 1, interior: X2(GeneralIndex(channel),
;;     AccountId32 { network: None, id: contract }) }`
;;   - message: XCM v4 `[Transact { origin_kind: SovereignAccount, require_weight_at_most:
;;     (1e9, 1024), call }, ReportTransactStatus { destination: Here, query_id,
;;     max_weight: (1e9, 1024) }]`
;; - `on_bridge_reply(query_id: u64, outcome: Ack)` is what the bridge calls with the outcome;
;;   it keeps the last one. (A contract that must trust its replies also checks the caller:
;;   the answering contract's account behind the channel.)
;; - `last_reply() -> Option<(u64, Ack)>` reads it.
;;
;; Both the bridge message and the reply are paid by the receiving contract's own account:
;; fund this contract's account before the reply comes back.
;;
;; Storage: 0x00000000 the next query id (u32), 0x01000000 the last reply.
;; Memory: 0 and 4 the two keys, 16 a u32 value, 20 a length, 64 the input length, 128.. the
;; input (1024 bytes at most), 2048 the destination, 2112 the message, 3072 the message
;; hash, 4096.. the output.
(module
  (import "seal0" "input" (func $input (param i32 i32)))
  (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
  (import "seal0" "xcm_send" (func $xcm_send (param i32 i32 i32 i32) (result i32)))
  (import "seal1" "get_storage" (func $get_storage (param i32 i32 i32 i32) (result i32)))
  (import "seal2" "set_storage" (func $set_storage (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 2 16))

  (data (i32.const 4) "\01\00\00\00")

  ;; Selectors as little-endian i32s of their four bytes.
  (global $NEW i32 (i32.const 0x5e9dae9b))        ;; 0x9bae9d5e new()
  (global $ASK i32 (i32.const 0x1e740f02))        ;; 0x020f741e ask(u32, AccountId, Vec<u8>) -> u32
  (global $ON_REPLY i32 (i32.const 0x65e18dc7))   ;; 0xc78de165 on_bridge_reply(u64, Ack)
  (global $LAST_REPLY i32 (i32.const 0xa1c5c9e8)) ;; 0xe8c9c5a1 last_reply() -> Option<(u64, Ack)>
  ;; The answerer's `answer(question)`, called over the bridge.
  (global $ANSWER i32 (i32.const 0x64309949))
  ;; Compact 1_000_000_000 (four-byte mode) and compact 1024 (two-byte mode): the gas and
  ;; storage bytes of the call there and of the reply here.
  (global $GAS i32 (i32.const 0xee6b2802))
  (global $BYTES i32 (i32.const 0x1001))
  ;; Bytes the last compact read took.
  (global $used (mut i32) (i32.const 0))

  (func $read_input (result i32)
    (i32.store (i32.const 64) (i32.const 1024))
    (call $input (i32.const 128) (i32.const 64))
    (i32.load (i32.const 64)))

  (func $could_not_read_input
    (i32.store16 (i32.const 4096) (i32.const 0x0101))
    (call $return (i32.const 1) (i32.const 4096) (i32.const 2)))

  (func $ok_unit
    (i32.store8 (i32.const 4096) (i32.const 0))
    (call $return (i32.const 0) (i32.const 4096) (i32.const 1)))

  ;; A SCALE compact below 16384 at $p (one- or two-byte mode, canonical), or -1.
  (func $compact_at (param $p i32) (result i32)
    (local $b i32)
    (local.set $b (i32.load8_u (local.get $p)))
    (if (i32.eqz (i32.and (local.get $b) (i32.const 3)))
      (then
        (global.set $used (i32.const 1))
        (return (i32.shr_u (local.get $b) (i32.const 2)))))
    (if (i32.eq (i32.and (local.get $b) (i32.const 3)) (i32.const 1))
      (then
        (global.set $used (i32.const 2))
        (local.set $b (i32.shr_u (i32.load16_u (local.get $p)) (i32.const 2)))
        (if (i32.lt_u (local.get $b) (i32.const 64)) (then (return (i32.const -1))))
        (return (local.get $b))))
    (i32.const -1))

  ;; Writes $v (below 16384) as a SCALE compact at $p; returns the end.
  (func $compact_to (param $p i32) (param $v i32) (result i32)
    (if (i32.lt_u (local.get $v) (i32.const 64))
      (then
        (i32.store8 (local.get $p) (i32.shl (local.get $v) (i32.const 2)))
        (return (i32.add (local.get $p) (i32.const 1)))))
    (i32.store16 (local.get $p) (i32.or (i32.shl (local.get $v) (i32.const 2)) (i32.const 1)))
    (i32.add (local.get $p) (i32.const 2)))

  (func $copy (param $to i32) (param $from i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $to) (local.get $i))
                    (i32.load8_u (i32.add (local.get $from) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Writes the weight (1e9 gas, 1024 bytes) at $p; returns the end.
  (func $weight (param $p i32) (result i32)
    (i32.store (local.get $p) (global.get $GAS))
    (i32.store16 (i32.add (local.get $p) (i32.const 4)) (global.get $BYTES))
    (i32.add (local.get $p) (i32.const 6)))

  (func $next_query (result i32)
    (i32.store (i32.const 20) (i32.const 4))
    (if (call $get_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 20))
      (then (unreachable)))
    (i32.load (i32.const 16)))

  (func (export "deploy")
    (if (i32.ne (call $read_input) (i32.const 4)) (then (call $could_not_read_input)))
    (if (i32.ne (i32.load (i32.const 128)) (global.get $NEW)) (then (call $could_not_read_input)))
    (i32.store (i32.const 16) (i32.const 0))
    (drop (call $set_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 4)))
    (call $ok_unit))

  (func (export "call")
    (local $len i32)
    (local $channel i32)
    (local $n i32)
    (local $start i32)
    (local $query i32)
    (local $p i32)
    (local.set $len (call $read_input))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))

    (if (i32.eq (i32.load (i32.const 128)) (global.get $ASK))
      (then
        ;; selector, channel (4), contract (32), compact length, question
        (if (i32.lt_u (local.get $len) (i32.const 41)) (then (call $could_not_read_input)))
        (local.set $channel (i32.load (i32.const 132)))
        (if (i32.ge_u (local.get $channel) (i32.const 16384)) (then (call $could_not_read_input)))
        (local.set $n (call $compact_at (i32.const 168)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $could_not_read_input)))
        (local.set $start (i32.add (i32.const 168) (global.get $used)))
        (if (i32.ne (i32.add (local.get $start) (local.get $n))
                    (i32.add (i32.const 128) (local.get $len)))
          (then (call $could_not_read_input)))
        (local.set $query (call $next_query))
        (i32.store (i32.const 16) (i32.add (local.get $query) (i32.const 1)))
        (drop (call $set_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 4)))

        ;; dest: V4, parents 1, X2, GeneralIndex(channel), AccountId32 { network: None, id }
        (i32.store (i32.const 2048) (i32.const 0x05020104))
        (local.set $p (call $compact_to (i32.const 2052) (local.get $channel)))
        (i32.store16 (local.get $p) (i32.const 0x0001))
        (call $copy (i32.add (local.get $p) (i32.const 2)) (i32.const 136) (i32.const 32))

        ;; message: V4, two instructions, Transact { SovereignAccount, weight, call }
        (i32.store (i32.const 2112) (i32.const 0x01060804))
        (local.set $p (call $weight (i32.const 2116)))
        ;; call = answer selector, compact length, question
        (local.set $p (call $compact_to (local.get $p)
          (i32.add (i32.add (i32.const 4) (local.get $n))
                   (select (i32.const 1) (i32.const 2) (i32.lt_u (local.get $n) (i32.const 64))))))
        (i32.store (local.get $p) (global.get $ANSWER))
        (local.set $p (call $compact_to (i32.add (local.get $p) (i32.const 4)) (local.get $n)))
        (call $copy (local.get $p) (local.get $start) (local.get $n))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        ;; ReportTransactStatus { destination: Here, query_id, max_weight }
        (i32.store8 (local.get $p) (i32.const 35))
        (i32.store16 (i32.add (local.get $p) (i32.const 1)) (i32.const 0))
        (local.set $p (call $compact_to (i32.add (local.get $p) (i32.const 3)) (local.get $query)))
        (local.set $p (call $weight (local.get $p)))

        (if (call $xcm_send
              (i32.const 2048)
              (i32.const 2112)
              (i32.sub (local.get $p) (i32.const 2112))
              (i32.const 3072))
          (then (unreachable)))
        ;; Ok(query)
        (i32.store8 (i32.const 4096) (i32.const 0))
        (i32.store (i32.const 4097) (local.get $query))
        (call $return (i32.const 0) (i32.const 4096) (i32.const 5))))

    (if (i32.eq (i32.load (i32.const 128)) (global.get $ON_REPLY))
      (then
        ;; Kept as it came: the query id and the outcome's encoding.
        (if (i32.lt_u (local.get $len) (i32.const 13)) (then (call $could_not_read_input)))
        (drop (call $set_storage
          (i32.const 4) (i32.const 4)
          (i32.const 132) (i32.sub (local.get $len) (i32.const 4))))
        (call $ok_unit)))

    (if (i32.eq (i32.load (i32.const 128)) (global.get $LAST_REPLY))
      (then
        (if (i32.ne (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
        ;; Ok(None), or Ok(Some(reply))
        (i32.store16 (i32.const 4096) (i32.const 0))
        (i32.store (i32.const 20) (i32.const 1024))
        (if (call $get_storage (i32.const 4) (i32.const 4) (i32.const 4098) (i32.const 20))
          (then (call $return (i32.const 0) (i32.const 4096) (i32.const 2))))
        (i32.store8 (i32.const 4097) (i32.const 1))
        (call $return
          (i32.const 0)
          (i32.const 4096)
          (i32.add (i32.const 2) (i32.load (i32.const 20))))))
    (call $could_not_read_input))
)
