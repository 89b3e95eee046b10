"""ADB RSA authentication as a phone's adbd does it: Android's public-key format, signature checks, and the
device's trusted and pending keys.

A key line is `<base64 of the 524-byte key struct> <comment>`, as in a host's ~/.android/adbkey.pub and a
phone's /data/misc/adb/adb_keys. The struct is little-endian: uint32 modulus_size_words (64: RSA-2048),
uint32 n0inv (-1/n mod 2^32), modulus (256 bytes, least significant first), rr (R^2 mod n with R = 2^2048,
same order), uint32 exponent. adbd reads only the modulus and the exponent, and so does `parse_public_key`.

The host signs the 20-byte token with RSASSA-PKCS1-v1_5 as if it were a SHA-1 digest; adbd checks the
signature against every key it trusts. A host out of keys sends its public key instead, and the phone asks
its user ("Allow USB debugging?"): here that key waits in the pending file until someone accepts it
(`mai_bench.emulate.loopback.accept_pending_keys`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA1

MODULUS_BYTES = 2048 // 8
MODULUS_WORDS = MODULUS_BYTES // 4
KEY_STRUCT = struct.Struct(f"<II{MODULUS_BYTES}s{MODULUS_BYTES}sI")  # 524 bytes
TRUSTED_FILE = "adb_keys"
PENDING_FILE = "adb_keys.pending"
_LOCK_FILE = "adb_keys.lock"
_OFF = {"0", "n", "no", "false", "off"}  # what Android's GetBoolProperty reads as false


class BadKey(ValueError):
    """Text that is not an Android RSA public key line."""


@dataclass(frozen=True)
class AndroidPublicKey:
    """The fields of the key struct (n0inv and rr are Montgomery constants derived from the modulus)."""

    n0inv: int
    modulus: int
    rr: int
    exponent: int

    def public_key(self) -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()


def auth_required(props: Mapping[str, str], reject_auth: bool = False) -> bool:
    """Whether a device asks for AUTH: unless its ro.adb.secure is off (a missing property counts as on, as on a
    production phone), and always under the reject_auth fault."""
    return reject_auth or props.get("ro.adb.secure", "1").strip().lower() not in _OFF


def key_blob(line: str) -> str:
    """The base64 part of a key line (what identifies the key; the comment does not)."""
    fields = line.split(None, 1)
    return fields[0] if fields else ""


def decode_key(line: str) -> AndroidPublicKey:
    """All fields of a key line's struct; BadKey unless it is a well-formed RSA-2048 key."""
    blob = key_blob(line)
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey("the key is not base64") from None
    if len(raw) != KEY_STRUCT.size:
        raise BadKey(f"the key struct has {len(raw)} bytes, not {KEY_STRUCT.size}")
    words, n0inv, modulus, rr, exponent = KEY_STRUCT.unpack(raw)
    if words != MODULUS_WORDS:
        raise BadKey(f"modulus_size_words is {words}, not {MODULUS_WORDS}")
    n = int.from_bytes(modulus, "little")
    if n.bit_length() != MODULUS_BYTES * 8 or n % 2 == 0 or exponent < 3 or exponent % 2 == 0:
        raise BadKey("the modulus or exponent is not that of an RSA-2048 key")
    return AndroidPublicKey(n0inv, n, int.from_bytes(rr, "little"), exponent)


def parse_public_key(line: str) -> rsa.RSAPublicKey:
    """The RSA public key of a key line (`base64 comment`); BadKey if it is none."""
    return decode_key(line).public_key()


def encode_public_key(key: rsa.RSAPublicKey, comment: str = "") -> str:
    """A key line for `key`, as adb writes adbkey.pub (an RSA-2048 key; comment usually user@host)."""
    numbers = key.public_numbers()
    n = numbers.n
    if n.bit_length() != MODULUS_BYTES * 8:
        raise BadKey(f"adb keys are RSA-2048, not {n.bit_length()} bits")
    n0inv = (-pow(n, -1, 1 << 32)) % (1 << 32)
    rr = pow(1 << (MODULUS_BYTES * 8), 2, n)
    raw = KEY_STRUCT.pack(MODULUS_WORDS, n0inv, n.to_bytes(MODULUS_BYTES, "little"),
                          rr.to_bytes(MODULUS_BYTES, "little"), numbers.e)
    text = base64.b64encode(raw).decode("ascii")
    return f"{text} {comment}" if comment else text


def public_key_of_private(pem: bytes, comment: str = "") -> str:
    """The key line of a PEM RSA private key (adb's ~/.android/adbkey); BadKey if it is none."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadKey(f"not a PEM private key without password: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadKey("not an RSA private key")
    return encode_public_key(key.public_key(), comment)


def verify(key: rsa.RSAPublicKey, token: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key`'s PKCS#1 v1.5 signature of `token` taken as a SHA-1 digest."""
    try:
        key.verify(signature, token, padding.PKCS1v15(), Prehashed(SHA1()))
    except (InvalidSignature, ValueError):
        return False
    return True


def fingerprint(line: str) -> str:
    """The MD5 fingerprint the "Allow USB debugging?" dialog shows (of the decoded key struct)."""
    try:
        raw = base64.b64decode(key_blob(line), validate=True)
    except (binascii.Error, ValueError):
        raw = line.encode()
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class KeyStore:
    """A device's trusted keys (`adb_keys`, one key line each, read anew for every check as adbd does) and the
    keys hosts offered that nobody accepted yet (`adb_keys.pending`), in `folder`. The daemon and its starter
    both change them, under an exclusive lock."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def trusted(self) -> list[str]:
        return _read_lines(self.folder / TRUSTED_FILE)

    def pending(self) -> list[str]:
        return _read_lines(self.folder / PENDING_FILE)

    def is_trusted(self, line: str) -> bool:
        return key_blob(line) in {key_blob(known) for known in self.trusted()}

    def trust(self, lines: Iterable[str]) -> list[str]:
        """Add key lines to the trusted keys (checked; known ones are skipped); returns those added."""
        lines = [line.strip() for line in lines]
        if not lines:
            return []
        for line in lines:
            decode_key(line)
        with self._locked():
            return self._add(TRUSTED_FILE, lines)

    def offer(self, line: str) -> bool:
        """A host offered its public key: keep it pending (unless trusted already); True if it is new."""
        line = line.strip()
        decode_key(line)
        with self._locked():
            if self.is_trusted(line):
                return False
            return bool(self._add(PENDING_FILE, [line]))

    def accept_pending(self) -> list[str]:
        """The user tapped "Allow" (with "Always allow"): every pending key becomes trusted; returns them."""
        with self._locked():
            pending = self.pending()
            self._add(TRUSTED_FILE, pending)
            _write_lines(self.folder / PENDING_FILE, [])
            return pending

    def verify(self, token: bytes, signature: bytes) -> str | None:
        """The trusted key line whose signature of `token` this is, or None (unreadable lines are skipped)."""
        for line in self.trusted():
            try:
                key = parse_public_key(line)
            except BadKey:
                continue
            if verify(key, token, signature):
                return line
        return None

    def _add(self, name: str, lines: list[str]) -> list[str]:
        current = _read_lines(self.folder / name)
        known = {key_blob(line) for line in current}
        added = []
        for line in lines:
            if key_blob(line) not in known:
                known.add(key_blob(line))
                added.append(line)
        if added:
            _write_lines(self.folder / name, current + added)
        return added

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / _LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def _write_lines(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
