#!/usr/bin/env python3
"""Recompute CommuCat's Noise HFS vectors independently (Python `cryptography` >= 48).

Written from the specifications, not from CommuCat's code: the Noise Protocol
Framework rev. 34 (sections 4, 5, 7) and the Noise HFS extension (tokens e1,
ekem1: e1 = EncryptAndHash(KEM public key); ekem1 = EncryptAndHash(KEM
ciphertext), then MixKey(KEM shared secret)), with X25519, ChaCha20-Poly1305,
BLAKE2s/BLAKE2b/SHA-256, ML-KEM-768 (FIPS 203) and ML-DSA-65 (FIPS 204).

For each vector it rebuilds every message from the vector's seeds and checks
them byte for byte, the handshake hash, the transport messages, and the
server's ML-DSA-65 signature over DOMAIN || 0x00 || h (h after ekem1).
ML-KEM encapsulation cannot be derandomized here, so the responder's KEM
ciphertext is taken from message 2 (decrypted with keys this script derived)
and decapsulated with the initiator's seed: every byte after it depends on
that shared secret, so a wrong one would show.

Usage: hfs_vectors.py VECTORS.json   (exit 0: all match; 1: a mismatch; 2: missing library)
"""

import hashlib
import hmac
import json
import sys

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem, x25519
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
except ImportError as error:  # cryptography < 48 has no ML-KEM / ML-DSA
    print(f"SKIP: Python cryptography >= 48 with ML-KEM and ML-DSA is needed ({error})")
    sys.exit(2)

DOMAIN = b"commucat/hfs-server-signature/v1"
KEM_PUBLIC = 1184
KEM_CIPHERTEXT = 1088
DH_LEN = 32
TAG = 16

HASHES = {
    "BLAKE2s": (lambda data: hashlib.blake2s(data).digest(), 32, 64),
    "BLAKE2b": (lambda data: hashlib.blake2b(data).digest(), 64, 128),
    "SHA256": (lambda data: hashlib.sha256(data).digest(), 32, 64),
}

PATTERNS = {  # Noise HFS section 5: e1 after es, ekem1 after ee
    "XKhfs": [["e", "es", "e1"], ["e", "ee", "ekem1"], ["s", "se"]],
    "IKhfs": [["e", "es", "e1", "s", "ss"], ["e", "ee", "ekem1", "se"]],
}


class Mismatch(Exception):
    pass


def hmac_hash(name, key, data):
    return hmac.new(key, data, getattr(hashlib, name.lower())).digest()


class CipherState:
    def __init__(self):
        self.k = None
        self.n = 0

    def encrypt(self, ad, plaintext):
        if self.k is None:
            return plaintext
        nonce = b"\0\0\0\0" + self.n.to_bytes(8, "little")
        self.n += 1
        return ChaCha20Poly1305(self.k).encrypt(nonce, plaintext, ad)

    def decrypt(self, ad, ciphertext):
        if self.k is None:
            return ciphertext
        nonce = b"\0\0\0\0" + self.n.to_bytes(8, "little")
        self.n += 1
        return ChaCha20Poly1305(self.k).decrypt(nonce, ciphertext, ad)


class SymmetricState:
    def __init__(self, hash_name, protocol_name):
        self.hash_name = hash_name
        self.digest, self.hash_len, _ = HASHES[hash_name]
        name = protocol_name.encode()
        self.h = name.ljust(self.hash_len, b"\0") if len(name) <= self.hash_len else self.digest(name)
        self.ck = self.h
        self.cipher = CipherState()

    def hkdf(self, ikm, outputs):
        temp = hmac_hash(self.hash_name, self.ck, ikm)
        out1 = hmac_hash(self.hash_name, temp, b"\x01")
        out2 = hmac_hash(self.hash_name, temp, out1 + b"\x02")
        if outputs == 2:
            return out1, out2
        return out1, out2, hmac_hash(self.hash_name, temp, out2 + b"\x03")

    def mix_key(self, ikm):
        self.ck, temp_k = self.hkdf(ikm, 2)
        self.cipher = CipherState()
        self.cipher.k = temp_k[:32]

    def mix_hash(self, data):
        self.h = self.digest(self.h + data)

    def encrypt_and_hash(self, plaintext):
        ciphertext = self.cipher.encrypt(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext):
        plaintext = self.cipher.decrypt(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self):
        k1, k2 = self.hkdf(b"", 2)
        c1, c2 = CipherState(), CipherState()
        c1.k, c2.k = k1[:32], k2[:32]
        return c1, c2


def x_public(private):
    return x25519.X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def dh(private, public):
    return x25519.X25519PrivateKey.from_private_bytes(private).exchange(
        x25519.X25519PublicKey.from_public_bytes(public)
    )


def check(vector):
    name = vector["protocol_name"]
    _, pattern_name, dh_kem, cipher, hash_name = name.split("_")
    if dh_kem != "25519+MLKEM768" or cipher != "ChaChaPoly" or pattern_name not in PATTERNS:
        raise Mismatch(f"unsupported protocol {name}")
    messages = PATTERNS[pattern_name]
    raw = {k: bytes.fromhex(v) for k, v in vector.items() if isinstance(v, str) and k != "protocol_name"}
    s_i, e_i, s_r, e_r = raw["init_static"], raw["init_ephemeral"], raw["resp_static"], raw["resp_ephemeral"]
    if raw["init_remote_static"] != x_public(s_r):
        raise Mismatch("init_remote_static is not the responder's static public key")
    kem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw["init_kem_seed"])
    e1_public = kem_key.public_key().public_bytes_raw()
    assert len(e1_public) == KEM_PUBLIC

    # One SymmetricState, played as the initiator writing and reading; the
    # responder's view is the same transcript (Noise is symmetric in h, ck).
    ss = SymmetricState(hash_name, name)
    ss.mix_hash(raw["init_prologue"])
    ss.mix_hash(x_public(s_r))  # pre-message <- s
    re = x_public(e_r)
    signature_hash = None
    transports = None
    for index, message in enumerate(vector["messages"]):
        payload = bytes.fromhex(message["payload"])
        expected = bytes.fromhex(message["ciphertext"])
        from_initiator = index % 2 == 0
        if transports is None and index >= len(messages):
            c1, c2 = ss.split()
            transports = (c1, c2)
            if ss.h.hex() != vector["handshake_hash"]:
                raise Mismatch("handshake_hash")
        if transports is not None:
            state = transports[0] if from_initiator else transports[1]
            got = state.encrypt(b"", payload)
            if got != expected:
                raise Mismatch(f"transport message {index}")
            continue
        out = b""
        offset = 0
        for token in messages[index]:
            if token == "e":
                public = x_public(e_i) if from_initiator else re
                out += public
                offset += DH_LEN
                ss.mix_hash(public)
            elif token == "s":
                out += ss.encrypt_and_hash(x_public(s_i))
                offset += DH_LEN + TAG
            elif token == "es":
                ss.mix_key(dh(e_i, x_public(s_r)))
            elif token == "ee":
                ss.mix_key(dh(e_i, re))
            elif token == "se":
                ss.mix_key(dh(s_i, re))
            elif token == "ss":
                ss.mix_key(dh(s_i, x_public(s_r)))
            elif token == "e1":
                out += ss.encrypt_and_hash(e1_public)
                offset += KEM_PUBLIC + TAG
            elif token == "ekem1":
                sealed = expected[offset : offset + KEM_CIPHERTEXT + TAG]
                kem_ciphertext = ss.cipher.decrypt(ss.h, sealed)  # the responder's, from message 2
                ss.mix_hash(sealed)
                out += sealed
                offset += KEM_CIPHERTEXT + TAG
                ss.mix_key(kem_key.decapsulate(kem_ciphertext))
            else:
                raise Mismatch(f"unknown token {token}")
        if index == 1:
            signature_hash = ss.h
        out += ss.encrypt_and_hash(payload)
        if out != expected:
            raise Mismatch(f"handshake message {index}")
    if transports is None:
        raise Mismatch("the vector ends inside the handshake")
    if signature_hash.hex() != vector["pq_signature_hash"]:
        raise Mismatch("pq_signature_hash (h after ekem1)")
    identity = mldsa.MLDSA65PrivateKey.from_seed_bytes(raw["resp_pq_signing_seed"]).public_key()
    try:
        identity.verify(raw["pq_signature"], DOMAIN + b"\0" + signature_hash)
    except Exception as error:
        raise Mismatch(f"pq_signature: {error!r}") from None


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as handle:
        vectors = json.load(handle)["vectors"]
    failed = 0
    for index, vector in enumerate(vectors):
        try:
            check(vector)
            print(f"ok   {vector['protocol_name']} #{index}")
        except Exception as error:  # report every vector, then fail
            failed += 1
            print(f"FAIL {vector.get('protocol_name')} #{index}: {error}")
    print(f"{len(vectors) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
