#!/usr/bin/env python3
"""Writes a chain spec with N extra funded accounts, for state-size benchmarks.

usage: scripts/bench-spec.py BASE_SPEC.json N OUT.json
BASE_SPEC is a spec from `phala chain-spec`; the extra accounts get 1 PHA each and are
random 32-byte ids (no keys: they only make the state large)."""
import hashlib, json, os, sys

ALPHABET = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

def b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = bytearray()
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    out.extend(b"1" * (len(data) - len(data.lstrip(b"\0"))))
    return bytes(reversed(out)).decode()

def ss58(key: bytes, prefix: int = 30) -> str:
    body = bytes([prefix]) + key
    check = hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]
    return b58(body + check)

base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spec = json.load(open(base))
spec["balances"] += [[ss58(os.urandom(32)), str(10**12)] for _ in range(n)]
json.dump(spec, open(out, "w"))
