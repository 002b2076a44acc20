;; bridge_answerer: answers questions that come from a contract on another chain.
;;
;; Hand-written against the ink! 4 ABI (like `flipper.wat`). `answer(question: Vec<u8>)`
;; returns the question upper-cased and counts it; `answered()` says how many it answered.
;; Over the bridge, the requester's `ask` calls `answer` (its `xcm_send` carries the call);
;; what `answer` returns travels back as the packet's acknowledgement. A message from the
;; bridge is paid by this contract's own account: fund it before asking.
;;
;; Memory: 0..4 the root key (zero), 16 the counter, 20 its length, 64 the input length,
;; 128.. the input (1024 bytes at most), 2048.. the output.
(module
  (import "seal0" "input" (func $input (param i32 i32)))
  (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
  (import "seal1" "get_storage" (func $get_storage (param i32 i32 i32 i32) (result i32)))
  (import "seal2" "set_storage" (func $set_storage (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 2 16))

  ;; Selectors as little-endian i32s of their four bytes.
  (global $NEW i32 (i32.const 0x5e9dae9b))      ;; 0x9bae9d5e new()
  (global $ANSWER i32 (i32.const 0x64309949))   ;; 0x49993064 answer(question: Vec<u8>) -> Vec<u8>
  (global $ANSWERED i32 (i32.const 0x8beda436)) ;; 0x36a4ed8b answered() -> u32
  ;; Bytes the last compact read took.
  (global $used (mut i32) (i32.const 0))

  (func $read_input (result i32)
    (i32.store (i32.const 64) (i32.const 1024))
    (call $input (i32.const 128) (i32.const 64))
    (i32.load (i32.const 64)))

  (func $could_not_read_input
    (i32.store16 (i32.const 2048) (i32.const 0x0101))
    (call $return (i32.const 1) (i32.const 2048) (i32.const 2)))

  (func $ok_unit
    (i32.store8 (i32.const 2048) (i32.const 0))
    (call $return (i32.const 0) (i32.const 2048) (i32.const 1)))

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

  ;; Questions answered so far.
  (func $count (result i32)
    (i32.store (i32.const 20) (i32.const 4))
    (if (call $get_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 20))
      (then (unreachable)))
    (i32.load (i32.const 16)))

  (func $set_count (param $n i32)
    (i32.store (i32.const 16) (local.get $n))
    (drop (call $set_storage (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 4))))

  (func (export "deploy")
    (if (i32.ne (call $read_input) (i32.const 4)) (then (call $could_not_read_input)))
    (if (i32.ne (i32.load (i32.const 128)) (global.get $NEW)) (then (call $could_not_read_input)))
    (call $set_count (i32.const 0))
    (call $ok_unit))

  (func (export "call")
    (local $len i32)
    (local $n i32)
    (local $start i32)
    (local $i i32)
    (local $c i32)
    (local $out i32)
    (local.set $len (call $read_input))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $ANSWERED))
      (then
        (if (i32.ne (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
        ;; Ok(count)
        (i32.store8 (i32.const 2048) (i32.const 0))
        (i32.store (i32.const 2049) (call $count))
        (call $return (i32.const 0) (i32.const 2048) (i32.const 5))))
    (if (i32.eq (i32.load (i32.const 128)) (global.get $ANSWER))
      (then
        (if (i32.lt_u (local.get $len) (i32.const 5)) (then (call $could_not_read_input)))
        (local.set $n (call $compact_at (i32.const 132)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $could_not_read_input)))
        (local.set $start (i32.add (i32.const 132) (global.get $used)))
        (if (i32.ne (i32.add (local.get $start) (local.get $n))
                    (i32.add (i32.const 128) (local.get $len)))
          (then (call $could_not_read_input)))
        (call $set_count (i32.add (call $count) (i32.const 1)))
        ;; Ok(the question, upper-cased)
        (i32.store8 (i32.const 2048) (i32.const 0))
        (local.set $out (call $compact_to (i32.const 2049) (local.get $n)))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $c (i32.load8_u (i32.add (local.get $start) (local.get $i))))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                         (i32.le_u (local.get $c) (i32.const 122)))
              (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
            (i32.store8 (i32.add (local.get $out) (local.get $i)) (local.get $c))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (call $return
          (i32.const 0)
          (i32.const 2048)
          (i32.sub (i32.add (local.get $out) (local.get $n)) (i32.const 2048)))))
    (call $could_not_read_input))
)
