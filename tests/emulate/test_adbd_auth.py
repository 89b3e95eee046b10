"""RSA authentication as a production phone does it: the key format and signature checks, then the handshake
through a raw socket (token, refused signatures, an offered key the user allows) and through the real adb
server and CLI (unauthorized until allowed, a second server, an insecure device, the reject_auth fault)."""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from adb_shell.auth.keygen import keygen as adb_shell_keygen
from adb_shell.auth.sign_pythonrsa import PythonRSASigner
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from mai_bench.device import adb_server as adb_server_lib
from mai_bench.emulate import loopback as loopback_lib
from mai_bench.emulate.adbd import auth
from mai_bench.emulate.adbd.spec import Faults
from support import wait_for

GUARD_TIMEOUT_S = 30.0  # a reply that takes this long is a hang: the test fails instead of waiting forever

A_CNXN, A_AUTH = 0x4E584E43, 0x48545541
TOKEN, SIGNATURE, RSAPUBLICKEY = 1, 2, 3


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key: rsa.RSAPrivateKey, token: bytes) -> bytes:
    return key.sign(token, padding.PKCS1v15(), Prehashed(SHA1()))


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [_new_key(), _new_key()]


# -- the key format and the signature check


def test_encoded_key_has_the_android_struct_fields(keys):
    public = keys[0].public_key()
    n = public.public_numbers().n
    line = auth.encode_public_key(public, "me@host")
    blob, comment = line.split(" ")
    raw = base64.b64decode(blob)
    assert (len(raw), comment) == (524, "me@host")
    assert struct.unpack_from("<I", raw)[0] == 64
    fields = auth.decode_key(line)
    assert (fields.modulus, fields.exponent) == (n, 65537)
    assert (fields.n0inv * n) % (1 << 32) == (1 << 32) - 1  # -1/n mod 2^32
    assert fields.rr == pow(2, 2 * 2048, n)
    assert auth.parse_public_key(line).public_numbers() == public.public_numbers()


def test_key_from_adb_keygen_matches_our_encoding_and_verifies(tmp_path, keys):
    # `adb keygen` is AOSP's own encoder: the same bytes prove n0inv, rr and the byte order right.
    env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(tmp_path)}
    subprocess.run([adb_server_lib.adb_binary(), "keygen", str(tmp_path / "adbkey")], env=env, check=True,
                   capture_output=True, timeout=GUARD_TIMEOUT_S)
    line = (tmp_path / "adbkey.pub").read_text().strip()
    private_pem = (tmp_path / "adbkey").read_bytes()
    assert auth.key_blob(auth.public_key_of_private(private_pem)) == auth.key_blob(line)
    private = load_pem_private_key(private_pem, password=None)
    public = auth.parse_public_key(line)
    token = os.urandom(20)
    signature = _sign(private, token)
    assert auth.verify(public, token, signature)
    assert not auth.verify(public, os.urandom(20), signature)
    assert not auth.verify(public, token, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not auth.verify(public, token, _sign(keys[0], token))
    assert not auth.verify(public, token, b"")


def test_adb_shell_keys_and_signatures_verify(tmp_path):
    # An independent encoder and signer (adb-shell with the pure-Python `rsa` package).
    adb_shell_keygen(str(tmp_path / "key"))
    line = (tmp_path / "key.pub").read_text().strip()
    signer = PythonRSASigner.FromRSAKeyPath(str(tmp_path / "key"))
    token = os.urandom(20)
    assert auth.verify(auth.parse_public_key(line), token, signer.Sign(token))


def _struct(words: int = 64, modulus: int | None = None, exponent: int = 65537) -> str:
    modulus = modulus if modulus is not None else (1 << 2047) + 1
    return base64.b64encode(struct.pack("<II256s256sI", words, 0, modulus.to_bytes(256, "little"), bytes(256),
                                        exponent)).decode()


@pytest.mark.parametrize("line", [
    "", "not base64!", base64.b64encode(bytes(523)).decode(), _struct(words=32), _struct(modulus=1 << 2047),
    _struct(modulus=(1 << 2046) + 1), _struct(exponent=0), _struct(exponent=65536),
])
def test_malformed_keys_are_refused(line):
    with pytest.raises(auth.BadKey):
        auth.parse_public_key(line)


def test_auth_is_required_unless_ro_adb_secure_is_off():
    assert auth.auth_required({})
    assert auth.auth_required({"ro.adb.secure": "1"})
    assert not auth.auth_required({"ro.adb.secure": "0"})
    assert not auth.auth_required({"ro.adb.secure": "false"})
    assert auth.auth_required({"ro.adb.secure": "0"}, reject_auth=True)


def test_key_store_trusts_offers_accepts_and_verifies(tmp_path, keys):
    store = auth.KeyStore(tmp_path)
    first, second = (auth.encode_public_key(k.public_key(), f"host{i}") for i, k in enumerate(keys))
    assert store.trust([first]) == [first]
    assert store.trust([first.split(" ")[0] + " renamed"]) == []  # the same key under another comment
    assert store.offer(first) is False  # trusted already: no dialog
    assert store.offer(second) is True and store.offer(second) is False
    assert store.pending() == [second] and not store.is_trusted(second)
    token = os.urandom(20)
    assert store.verify(token, _sign(keys[1], token)) is None
    assert store.accept_pending() == [second]
    assert store.pending() == [] and store.trusted() == [first, second]
    (tmp_path / auth.TRUSTED_FILE).write_text("garbage line\n" + (tmp_path / auth.TRUSTED_FILE).read_text())
    assert store.verify(token, _sign(keys[1], token)) == second  # an unreadable line is skipped
    assert store.verify(token, _sign(keys[0], token)) == first
    assert store.verify(token, os.urandom(256)) is None
    with pytest.raises(auth.BadKey):
        store.trust(["garbage"])


# -- the handshake over a raw socket: what adbd answers to each AUTH


class RawHost:
    """The host side of the handshake, message by message (version 0x01000001: CNXN/AUTH carry checksums)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=GUARD_TIMEOUT_S)

    def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        header = struct.pack("<6I", command, arg0, arg1, len(payload), sum(payload) & 0xFFFFFFFF,
                             command ^ 0xFFFFFFFF)
        self.sock.sendall(header + payload)

    def receive(self) -> tuple[int, int, bytes]:
        command, arg0, _, length, _, magic = struct.unpack("<6I", self._exactly(24))
        assert magic == command ^ 0xFFFFFFFF
        return command, arg0, self._exactly(length)

    def connect(self) -> bytes:
        self.send(A_CNXN, 0x01000001, 256 * 1024, b"host::features=shell_v2\0")
        return self.expect_token()

    def expect_token(self) -> bytes:
        command, arg0, payload = self.receive()
        assert (command, arg0, len(payload)) == (A_AUTH, TOKEN, 20)
        return payload

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, f"the device closed the connection after {len(data)} of {n} bytes"
            data += chunk
        return data


@pytest.fixture
def raw_host():
    hosts: list[RawHost] = []

    def open_(device: loopback_lib.LoopbackDevice) -> RawHost:
        hosts.append(RawHost(device.port))
        return hosts[-1]

    yield open_
    for host in hosts:
        host.close()


def test_bad_signatures_get_a_new_token_and_a_trusted_one_gets_in(loopback, raw_host, keys):
    trusted, stranger = keys
    device = loopback.one(connect=False, trust_server=False,
                          trusted_keys=[auth.encode_public_key(trusted.public_key(), "trusted@host")])
    host = raw_host(device)
    first = host.connect()
    host.send(A_AUTH, SIGNATURE, 0, os.urandom(256))
    second = host.expect_token()
    host.send(A_AUTH, SIGNATURE, 0, _sign(stranger, second))
    third = host.expect_token()
    host.send(A_AUTH, SIGNATURE, 0, _sign(trusted, second))  # right key, but an old token
    fourth = host.expect_token()
    assert len({first, second, third, fourth}) == 4
    host.send(A_AUTH, SIGNATURE, 0, _sign(trusted, fourth))
    command, _, banner = host.receive()
    assert command == A_CNXN and banner.startswith(b"device::") and b"ro.product.model=Loopback SM8450" in banner
    assert loopback_lib.pending_keys(device) == []


def test_offered_key_waits_for_the_user_then_gets_in_on_the_same_connection(loopback, raw_host, keys):
    device = loopback.one(connect=False, trust_server=False)
    line = auth.encode_public_key(keys[1].public_key(), "new@host")
    host = raw_host(device)
    token = host.connect()
    host.send(A_AUTH, SIGNATURE, 0, _sign(keys[1], token))
    host.expect_token()
    host.send(A_AUTH, RSAPUBLICKEY, 0, b"not a key\0")  # no dialog for garbage
    host.send(A_AUTH, RSAPUBLICKEY, 0, line.encode() + b"\0")
    wait_for(lambda: loopback_lib.pending_keys(device) == [line], "the key to be pending", GUARD_TIMEOUT_S)
    assert loopback_lib.accept_pending_keys(device) == [line]
    command, _, banner = host.receive()
    assert command == A_CNXN and banner.startswith(b"device::")
    assert loopback_lib.pending_keys(device) == []
    # Allowed for good: the next connection gets in by signature.
    again = raw_host(device)
    again.send(A_AUTH, SIGNATURE, 0, b"x" * 256)  # before CNXN there is no token to sign: ignored
    token = again.connect()
    again.send(A_AUTH, SIGNATURE, 0, _sign(keys[1], token))
    assert again.receive()[0] == A_CNXN


def test_reject_auth_refuses_even_a_trusted_key(loopback, raw_host, keys):
    line = auth.encode_public_key(keys[0].public_key(), "trusted@host")
    device = loopback.one(connect=False, faults=Faults(reject_auth=True), trusted_keys=[line])
    host = raw_host(device)
    token = host.connect()
    host.send(A_AUTH, SIGNATURE, 0, _sign(keys[0], token))
    token = host.expect_token()
    host.send(A_AUTH, RSAPUBLICKEY, 0, auth.encode_public_key(keys[1].public_key()).encode() + b"\0")
    wait_for(lambda: len(loopback_lib.pending_keys(device)) == 1, "one pending key", GUARD_TIMEOUT_S)
    assert len(loopback_lib.accept_pending_keys(device)) == 1
    host.send(A_AUTH, SIGNATURE, 0, _sign(keys[1], token))  # allowed now, and still refused
    host.expect_token()


def test_insecure_device_answers_cnxn_at_once(loopback, raw_host):
    device = loopback.one(connect=False, trust_server=False, props={"ro.adb.secure": "0"})
    host = raw_host(device)
    host.send(A_CNXN, 0x01000001, 256 * 1024, b"host::\0")
    command, _, banner = host.receive()
    assert command == A_CNXN and banner.startswith(b"device::")


# -- through the real adb server and CLI


def test_unknown_server_is_unauthorized_until_its_key_is_accepted(loopback, adb, adb_server):
    device = loopback.one(trust_server=False)  # the factory waited for `unauthorized`
    result = adb("-s", device.serial, "shell", "echo hi", timeout=GUARD_TIMEOUT_S)
    assert result.returncode != 0 and b"unauthorized" in result.stderr
    server_key = loopback_lib.server_public_key(adb_server)
    wait_for(lambda: [auth.key_blob(k) for k in loopback_lib.pending_keys(device)] == [auth.key_blob(server_key)],
             "the server's key to be pending", GUARD_TIMEOUT_S)
    loopback_lib.accept_pending_keys(device)
    adb_server_lib.wait_for_state(adb_server, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)
    result = adb("-s", device.serial, "shell", "echo hi", timeout=GUARD_TIMEOUT_S)
    assert (result.returncode, result.stdout) == (0, b"hi\n")
    # The server reconnects with a signature now: no dialog, straight to `device`.
    adb_server_lib.disconnect(adb_server, device.serial)
    adb_server_lib.connect(adb_server, device.serial)
    adb_server_lib.wait_for_state(adb_server, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)
    assert loopback_lib.pending_keys(device) == []


def test_second_server_with_its_own_key_needs_the_user(loopback, adb_server, tmp_path):
    device = loopback.one()  # trusts the session server
    second = adb_server_lib.start_server(tmp_path / "other-home")
    try:
        assert auth.key_blob(loopback_lib.server_public_key(second)) != auth.key_blob(
            loopback_lib.server_public_key(adb_server))
        adb_server_lib.connect(second, device.serial)
        adb_server_lib.wait_for_state(second, device.serial, ("unauthorized",), timeout=GUARD_TIMEOUT_S)
        assert adb_server_lib.devices(adb_server)[device.serial] == "device"
        # The server says `unauthorized` as it sends its public key: the device may not have it yet.
        wait_for(lambda: len(loopback_lib.pending_keys(device)) == 1, "one pending key", GUARD_TIMEOUT_S)
        loopback_lib.accept_pending_keys(device)
        adb_server_lib.wait_for_state(second, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)
        env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(second.home)}
        out = subprocess.run([adb_server_lib.adb_binary(), "-P", str(second.port), "-s", device.serial, "shell",
                              "getprop", "ro.soc.model"], env=env, capture_output=True, timeout=GUARD_TIMEOUT_S)
        assert out.stdout == b"SM8450\n"
    finally:
        adb_server_lib.stop_server(second)
    assert loopback_lib.session_processes(second.pid) == []


def test_vendor_key_is_tried_too(loopback, tmp_path, monkeypatch):
    # ADB_VENDOR_KEYS gives the server a second key; the device trusts only that one.
    env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(tmp_path)}
    subprocess.run([adb_server_lib.adb_binary(), "keygen", str(tmp_path / "vendor")], env=env, check=True,
                   capture_output=True, timeout=GUARD_TIMEOUT_S)
    vendor = (tmp_path / "vendor.pub").read_text().strip()
    device = loopback.one(connect=False, trust_server=False, trusted_keys=[vendor])
    monkeypatch.setenv("ADB_VENDOR_KEYS", str(tmp_path / "vendor"))
    server = adb_server_lib.start_server(tmp_path / "home")
    try:
        adb_server_lib.connect(server, device.serial)
        adb_server_lib.wait_for_state(server, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)
        assert loopback_lib.pending_keys(device) == []
    finally:
        adb_server_lib.stop_server(server)
    assert loopback_lib.session_processes(server.pid) == []


def test_insecure_device_needs_no_key(loopback, adb):
    device = loopback.one(trust_server=False, props={"ro.adb.secure": "0"})  # the factory waited for `device`
    result = adb("-s", device.serial, "shell", "getprop ro.adb.secure", timeout=GUARD_TIMEOUT_S)
    assert (result.returncode, result.stdout) == (0, b"0\n")
    assert loopback_lib.pending_keys(device) == []


def test_key_accepted_under_reject_auth_gets_in_once_the_fault_is_lifted(loopback, adb_server):
    device = loopback.one(faults=Faults(reject_auth=True), trust_server=False)
    wait_for(lambda: len(loopback_lib.pending_keys(device)) == 1, "one pending key", GUARD_TIMEOUT_S)
    loopback_lib.accept_pending_keys(device)
    # Lifting the fault drops the connection; the server reconnects and its key, accepted above, gets in.
    device = loopback.set_faults(device, Faults())
    adb_server_lib.wait_for_state(adb_server, device.serial, ("device",), timeout=GUARD_TIMEOUT_S)


def test_emulate_insecure_devices_need_no_key(tmp_path):
    port = adb_server_lib.free_port()
    script = os.path.join(os.path.dirname(sys.executable), "mai-bench")
    argv = [script] if os.path.exists(script) else [sys.executable, "-c", "from mai_bench.cli.main import main; main()"]
    proc = subprocess.Popen([*argv, "emulate", "--count", "1", "--insecure", "--adb-server", f"127.0.0.1:{port}",
                             "--root", str(tmp_path / "emu")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server = adb_server_lib.AdbServer("127.0.0.1", port)
    pid = None
    try:
        lines = _read_lines(proc, 2)
        assert len(lines) == 2 and lines[0].startswith(f"adb server 127.0.0.1:{port}"), lines
        serial, state, _, pid_field = lines[1].split()[:4]
        pid = int(pid_field.removeprefix("pid="))
        assert state == "device" and adb_server_lib.devices(server)[serial] == "device"
        env = {**os.environ, **adb_server_lib.ISOLATION_ENV, "HOME": str(tmp_path / "emu" / "adb-home")}
        out = subprocess.run([adb_server_lib.adb_binary(), "-P", str(port), "-s", serial, "shell",
                              "getprop ro.adb.secure"], env=env, capture_output=True, timeout=GUARD_TIMEOUT_S)
        assert out.stdout == b"0\n"
        keys = auth.KeyStore(tmp_path / "emu" / "device0" / ".loopback")
        assert keys.trusted() == [] and keys.pending() == []  # in without any key
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(GUARD_TIMEOUT_S)
    assert code == 0, proc.stderr.read()
    assert adb_server_lib.server_version(server) is None
    assert pid is not None and loopback_lib.session_processes(pid) == []


def _read_lines(proc: subprocess.Popen, count: int) -> list[str]:
    buffer = b""
    deadline = time.monotonic() + GUARD_TIMEOUT_S
    while buffer.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
    return [line.decode() for line in buffer.split(b"\n")[:count] if line]
