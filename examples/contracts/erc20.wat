;; erc20: a fungible token with balances, allowances and Transfer/Approval events.
;;
;; Hand-written against the ink! 4 ABI of ink!'s own erc20 example: the same selectors,
;; argument and result encodings (`Result<Result<(), Error>, LangError>` for the calls that can
;; fail, reverted when they do), and events encoded as the index of the event in
;; `erc20.metadata.json` followed by its fields. Events carry no topics.
;;
;; Storage: the total supply (u128) at root key 0x00000000; a balance at
;; 0x01000000 ‖ owner; an allowance at 0x02000000 ‖ owner ‖ spender. Missing entries are 0.
;; Balances are u128 as two i64 halves; every sum is checked (a trap if it overflows).
;;
;; Memory:
;;   0x000  a storage key being built (at most 4 + 32 + 32 bytes)
;;   0x080  u128 scratch A, 0x090 B, 0x0a0 C
;;   0x0c0  an output length slot, 0x0c4 the caller's length slot
;;   0x0d0  the root key (four zero bytes)
;;   0x100  the caller (32 bytes)
;;   0x200  the input length, 0x204.. the input (256 bytes at most)
;;   0x400  the output, 0x500 an event's data
(module
  (import "seal0" "input" (func $input (param i32 i32)))
  (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
  (import "seal0" "caller" (func $caller (param i32 i32)))
  (import "seal0" "deposit_event" (func $deposit_event (param i32 i32 i32 i32)))
  (import "seal1" "get_storage" (func $get_storage (param i32 i32 i32 i32) (result i32)))
  (import "seal2" "set_storage" (func $set_storage (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 2 16))

  ;; Selectors as little-endian i32s of their four bytes.
  (global $NEW i32 (i32.const 0x5e9dae9b))           ;; 0x9bae9d5e new(total_supply: u128)
  (global $TOTAL_SUPPLY i32 (i32.const 0xa87563db))  ;; 0xdb6375a8 total_supply() -> u128
  (global $BALANCE_OF i32 (i32.const 0x565a750f))    ;; 0x0f755a56 balance_of(owner) -> u128
  (global $ALLOWANCE i32 (i32.const 0x5e16006a))     ;; 0x6a00165e allowance(owner, spender) -> u128
  (global $TRANSFER i32 (i32.const 0xa15da184))      ;; 0x84a15da1 transfer(to, value)
  (global $APPROVE i32 (i32.const 0xa0661268))       ;; 0x681266a0 approve(spender, value)
  (global $TRANSFER_FROM i32 (i32.const 0x186f390b)) ;; 0x0b396f18 transfer_from(from, to, value)

  (global $IN i32 (i32.const 0x204))
  (global $A i32 (i32.const 0x080))
  (global $B i32 (i32.const 0x090))
  (global $C i32 (i32.const 0x0a0))
  (global $OUT i32 (i32.const 0x400))
  (global $EVENT i32 (i32.const 0x500))

  ;; --- input and output ---

  (func $read_input (result i32)
    (i32.store (i32.const 0x200) (i32.const 256))
    (call $input (global.get $IN) (i32.const 0x200))
    (i32.load (i32.const 0x200)))

  ;; Err(LangError::CouldNotReadInput), reverted.
  (func $could_not_read_input
    (i32.store16 (global.get $OUT) (i32.const 0x0101))
    (call $return (i32.const 1) (global.get $OUT) (i32.const 2)))

  ;; Ok(()) of a constructor.
  (func $ok_unit
    (i32.store8 (global.get $OUT) (i32.const 0))
    (call $return (i32.const 0) (global.get $OUT) (i32.const 1)))

  ;; Ok(Ok(())), or Ok(Err(error)) reverted: 0 InsufficientBalance, 1 InsufficientAllowance.
  ;; $error is -1 for success.
  (func $result (param $error i32)
    (i32.store8 (global.get $OUT) (i32.const 0))
    (if (i32.lt_s (local.get $error) (i32.const 0))
      (then
        (i32.store8 (i32.add (global.get $OUT) (i32.const 1)) (i32.const 0))
        (call $return (i32.const 0) (global.get $OUT) (i32.const 2))))
    (i32.store8 (i32.add (global.get $OUT) (i32.const 1)) (i32.const 1))
    (i32.store8 (i32.add (global.get $OUT) (i32.const 2)) (local.get $error))
    (call $return (i32.const 1) (global.get $OUT) (i32.const 3)))

  ;; Ok(value) of a u128 getter.
  (func $ok_u128 (param $value i32)
    (i32.store8 (global.get $OUT) (i32.const 0))
    (call $copy16 (i32.add (global.get $OUT) (i32.const 1)) (local.get $value))
    (call $return (i32.const 0) (global.get $OUT) (i32.const 17)))

  ;; --- memory helpers (no bulk-memory in the ABI) ---

  (func $copy16 (param $dst i32) (param $src i32)
    (i64.store (local.get $dst) (i64.load (local.get $src)))
    (i64.store offset=8 (local.get $dst) (i64.load offset=8 (local.get $src))))

  (func $copy32 (param $dst i32) (param $src i32)
    (call $copy16 (local.get $dst) (local.get $src))
    (call $copy16 (i32.add (local.get $dst) (i32.const 16)) (i32.add (local.get $src) (i32.const 16))))

  ;; --- u128 arithmetic on 16-byte little-endian values ---

  ;; a >= b
  (func $ge (param $a i32) (param $b i32) (result i32)
    (local $ahi i64) (local $bhi i64)
    (local.set $ahi (i64.load offset=8 (local.get $a)))
    (local.set $bhi (i64.load offset=8 (local.get $b)))
    (if (result i32) (i64.ne (local.get $ahi) (local.get $bhi))
      (then (i64.gt_u (local.get $ahi) (local.get $bhi)))
      (else (i64.ge_u (i64.load (local.get $a)) (i64.load (local.get $b))))))

  ;; a -= b; the caller has checked a >= b.
  (func $sub (param $a i32) (param $b i32)
    (local $alo i64) (local $blo i64)
    (local.set $alo (i64.load (local.get $a)))
    (local.set $blo (i64.load (local.get $b)))
    (i64.store offset=8 (local.get $a)
      (i64.sub
        (i64.sub (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b)))
        (i64.extend_i32_u (i64.lt_u (local.get $alo) (local.get $blo)))))
    (i64.store (local.get $a) (i64.sub (local.get $alo) (local.get $blo))))

  ;; a += b, trapping on overflow.
  (func $add (param $a i32) (param $b i32)
    (local $lo i64) (local $hi i64) (local $ahi i64) (local $carry i64)
    (local.set $lo (i64.add (i64.load (local.get $a)) (i64.load (local.get $b))))
    (local.set $carry (i64.extend_i32_u (i64.lt_u (local.get $lo) (i64.load (local.get $a)))))
    (local.set $ahi (i64.load offset=8 (local.get $a)))
    (local.set $hi (i64.add (local.get $ahi) (i64.load offset=8 (local.get $b))))
    (if (i64.lt_u (local.get $hi) (local.get $ahi)) (then (unreachable)))
    (if (i64.eqz (i64.add (local.get $hi) (local.get $carry)))
      (then (if (i64.ne (local.get $carry) (i64.const 0)) (then (unreachable)))))
    (i64.store (local.get $a) (local.get $lo))
    (i64.store offset=8 (local.get $a) (i64.add (local.get $hi) (local.get $carry))))

  ;; --- storage ---

  ;; Reads the u128 at key 0..$key_len into $out (0 when missing).
  (func $get (param $key_len i32) (param $out i32)
    (i32.store (i32.const 0x0c0) (i32.const 16))
    (if (call $get_storage (i32.const 0) (local.get $key_len) (local.get $out) (i32.const 0x0c0))
      (then
        (i64.store (local.get $out) (i64.const 0))
        (i64.store offset=8 (local.get $out) (i64.const 0))
        (return)))
    (if (i32.ne (i32.load (i32.const 0x0c0)) (i32.const 16)) (then (unreachable))))

  (func $set (param $key_len i32) (param $value i32)
    (drop (call $set_storage (i32.const 0) (local.get $key_len) (local.get $value) (i32.const 16))))

  ;; Builds the key of $owner's balance; returns its length.
  (func $balance_key (param $owner i32) (result i32)
    (i32.store (i32.const 0) (i32.const 1))
    (call $copy32 (i32.const 4) (local.get $owner))
    (i32.const 36))

  ;; Builds the key of what $spender may spend of $owner's; returns its length.
  (func $allowance_key (param $owner i32) (param $spender i32) (result i32)
    (i32.store (i32.const 0) (i32.const 2))
    (call $copy32 (i32.const 4) (local.get $owner))
    (call $copy32 (i32.const 36) (local.get $spender))
    (i32.const 68))

  ;; --- events ---

  ;; Option<AccountId> at $at: None for a null pointer. Returns where the next field goes.
  (func $put_option (param $at i32) (param $account i32) (result i32)
    (if (result i32) (i32.eqz (local.get $account))
      (then
        (i32.store8 (local.get $at) (i32.const 0))
        (i32.add (local.get $at) (i32.const 1)))
      (else
        (i32.store8 (local.get $at) (i32.const 1))
        (call $copy32 (i32.add (local.get $at) (i32.const 1)) (local.get $account))
        (i32.add (local.get $at) (i32.const 33)))))

  ;; Transfer { from: Option<AccountId>, to: Option<AccountId>, value: u128 } (event 0).
  (func $emit_transfer (param $from i32) (param $to i32) (param $value i32)
    (local $at i32)
    (i32.store8 (global.get $EVENT) (i32.const 0))
    (local.set $at (call $put_option (i32.add (global.get $EVENT) (i32.const 1)) (local.get $from)))
    (local.set $at (call $put_option (local.get $at) (local.get $to)))
    (call $copy16 (local.get $at) (local.get $value))
    (call $deposit_event (i32.const 0) (i32.const 0) (global.get $EVENT)
      (i32.sub (i32.add (local.get $at) (i32.const 16)) (global.get $EVENT))))

  ;; Approval { owner: AccountId, spender: AccountId, value: u128 } (event 1).
  (func $emit_approval (param $owner i32) (param $spender i32) (param $value i32)
    (i32.store8 (global.get $EVENT) (i32.const 1))
    (call $copy32 (i32.add (global.get $EVENT) (i32.const 1)) (local.get $owner))
    (call $copy32 (i32.add (global.get $EVENT) (i32.const 33)) (local.get $spender))
    (call $copy16 (i32.add (global.get $EVENT) (i32.const 65)) (local.get $value))
    (call $deposit_event (i32.const 0) (i32.const 0) (global.get $EVENT) (i32.const 81)))

  ;; --- the token ---

  (func $load_caller
    (i32.store (i32.const 0x0c4) (i32.const 32))
    (call $caller (i32.const 0x100) (i32.const 0x0c4)))

  ;; Moves $value from $from to $to; returns -1, or 0 (InsufficientBalance).
  ;; The sender's balance is written before the receiver's is read, so a transfer to
  ;; oneself changes nothing.
  (func $transfer_from_to (param $from i32) (param $to i32) (param $value i32) (result i32)
    (call $get (call $balance_key (local.get $from)) (global.get $A))
    (if (i32.eqz (call $ge (global.get $A) (local.get $value))) (then (return (i32.const 0))))
    (call $sub (global.get $A) (local.get $value))
    (call $set (call $balance_key (local.get $from)) (global.get $A))
    (call $get (call $balance_key (local.get $to)) (global.get $B))
    (call $add (global.get $B) (local.get $value))
    (call $set (call $balance_key (local.get $to)) (global.get $B))
    (call $emit_transfer (local.get $from) (local.get $to) (local.get $value))
    (i32.const -1))

  (func (export "deploy")
    (if (i32.ne (call $read_input) (i32.const 20)) (then (call $could_not_read_input)))
    (if (i32.ne (i32.load (global.get $IN)) (global.get $NEW)) (then (call $could_not_read_input)))
    (call $load_caller)
    (drop (call $set_storage (i32.const 0x0d0) (i32.const 4) (i32.const 0x208) (i32.const 16)))
    (call $set (call $balance_key (i32.const 0x100)) (i32.const 0x208))
    (call $emit_transfer (i32.const 0) (i32.const 0x100) (i32.const 0x208))
    (call $ok_unit))

  (func (export "call")
    (local $len i32)
    (local $selector i32)
    (local.set $len (call $read_input))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
    (local.set $selector (i32.load (global.get $IN)))
    (call $load_caller)

    (if (i32.eq (local.get $selector) (global.get $TOTAL_SUPPLY))
      (then
        (if (i32.ne (local.get $len) (i32.const 4)) (then (call $could_not_read_input)))
        (i32.store (i32.const 0x0c0) (i32.const 16))
        (if (call $get_storage (i32.const 0x0d0) (i32.const 4) (global.get $A) (i32.const 0x0c0))
          (then (unreachable)))
        (call $ok_u128 (global.get $A))))

    ;; balance_of(owner: AccountId)
    (if (i32.eq (local.get $selector) (global.get $BALANCE_OF))
      (then
        (if (i32.ne (local.get $len) (i32.const 36)) (then (call $could_not_read_input)))
        (call $get (call $balance_key (i32.const 0x208)) (global.get $A))
        (call $ok_u128 (global.get $A))))

    ;; allowance(owner: AccountId, spender: AccountId)
    (if (i32.eq (local.get $selector) (global.get $ALLOWANCE))
      (then
        (if (i32.ne (local.get $len) (i32.const 68)) (then (call $could_not_read_input)))
        (call $get (call $allowance_key (i32.const 0x208) (i32.const 0x228)) (global.get $A))
        (call $ok_u128 (global.get $A))))

    ;; transfer(to: AccountId, value: u128)
    (if (i32.eq (local.get $selector) (global.get $TRANSFER))
      (then
        (if (i32.ne (local.get $len) (i32.const 52)) (then (call $could_not_read_input)))
        (call $result
          (call $transfer_from_to (i32.const 0x100) (i32.const 0x208) (i32.const 0x228)))))

    ;; approve(spender: AccountId, value: u128)
    (if (i32.eq (local.get $selector) (global.get $APPROVE))
      (then
        (if (i32.ne (local.get $len) (i32.const 52)) (then (call $could_not_read_input)))
        (call $set (call $allowance_key (i32.const 0x100) (i32.const 0x208)) (i32.const 0x228))
        (call $emit_approval (i32.const 0x100) (i32.const 0x208) (i32.const 0x228))
        (call $result (i32.const -1))))

    ;; transfer_from(from: AccountId, to: AccountId, value: u128): the caller spends what
    ;; `from` allowed it.
    (if (i32.eq (local.get $selector) (global.get $TRANSFER_FROM))
      (then
        (if (i32.ne (local.get $len) (i32.const 84)) (then (call $could_not_read_input)))
        (call $get (call $allowance_key (i32.const 0x208) (i32.const 0x100)) (global.get $C))
        (if (i32.eqz (call $ge (global.get $C) (i32.const 0x248)))
          (then (call $result (i32.const 1))))
        (local.set $len
          (call $transfer_from_to (i32.const 0x208) (i32.const 0x228) (i32.const 0x248)))
        (if (i32.ge_s (local.get $len) (i32.const 0)) (then (call $result (local.get $len))))
        (call $sub (global.get $C) (i32.const 0x248))
        (call $set (call $allowance_key (i32.const 0x208) (i32.const 0x100)) (global.get $C))
        (call $result (i32.const -1))))

    (call $could_not_read_input))
)
