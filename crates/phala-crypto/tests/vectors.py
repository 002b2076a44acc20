#!/usr/bin/env python3
"""Recomputes the envelope and derivation vectors of tests/envelope.rs with another
implementation (pyca/cryptography for X25519 and AES-GCM, the standard library for HMAC), so
the committed known answers do not merely repeat our own code."""
import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hkdf(ikm, salt, info):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


sender = X25519PrivateKey.from_private_bytes(bytes([1] * 32))
recipient = X25519PrivateKey.from_private_bytes(bytes([2] * 32))
# SCALE(EnvelopeHeader): recipient ‖ sender ‖ Purpose::Query (0) ‖ Some (1) ‖ contract id.
header = public(recipient) + public(sender) + bytes([0, 1]) + bytes([4] * 32)
shared = sender.exchange(X25519PublicKey.from_public_bytes(public(recipient)))
key = hkdf(shared, b"phala/envelope/v1", header)
iv = bytes([3] * 12)
ciphertext = AESGCM(key).encrypt(iv, b"phala", header)
# SCALE(Envelope): header ‖ iv ‖ compact(len) ‖ ciphertext (len < 64: one byte, len << 2).
print("KNOWN_ENVELOPE", (header + iv + bytes([len(ciphertext) << 2]) + ciphertext).hex())
print("KNOWN_DERIVED", hkdf(bytes([5] * 32), b"phala/derive/v1", b"cluster_key\x00" + bytes([6] * 32)).hex())
