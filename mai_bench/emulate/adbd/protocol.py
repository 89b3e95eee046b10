"""The ADB transport wire format (AOSP adb `protocol.txt`, `adb.h`): a 24-byte header of six little-endian
uint32 (command, arg0, arg1, data_length, data_crc32, magic) followed by `data_length` payload bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453

# Version 0x01000001 dropped payload checksums; CNXN and AUTH still carry one because they are read before
# the version is agreed.
A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = A_VERSION_SKIP_CHECKSUM

MAX_PAYLOAD = 1 << 20
MAX_PAYLOAD_V1 = 4096  # until CNXN agrees on more
# The send window each side grants when `delayed_ack` is negotiated (adb.h INITIAL_DELAYED_ACK_BYTES).
INITIAL_DELAYED_ACK_BYTES = 32 << 20

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3
TOKEN_SIZE = 20

HEADER = struct.Struct("<6I")
HEADER_SIZE = HEADER.size

_NAMES = {A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE",
          A_STLS: "STLS"}


class ProtocolError(Exception):
    """The peer sent something that is not an ADB transport message."""


@dataclass(frozen=True, slots=True)
class Header:
    command: int
    arg0: int
    arg1: int
    length: int
    checksum: int
    magic: int

    def __post_init__(self) -> None:
        if self.magic != self.command ^ 0xFFFFFFFF:
            raise ProtocolError(f"bad magic {self.magic:#010x} for command {self.command:#010x}")
        if self.length > MAX_PAYLOAD:
            raise ProtocolError(f"{command_name(self.command)} payload of {self.length} bytes exceeds {MAX_PAYLOAD}")

    @property
    def name(self) -> str:
        return command_name(self.command)


def command_name(command: int) -> str:
    return _NAMES.get(command, f"{command:#010x}")


def parse_header(data: bytes | bytearray) -> Header:
    return Header(*HEADER.unpack(data))


def byte_sum(payload: bytes) -> int:
    """ADB's "crc32" field is in fact the sum of the payload bytes."""
    return sum(payload) & 0xFFFFFFFF


def encode(command: int, arg0: int, arg1: int, payload: bytes = b"", *, checksum: bool = False) -> bytes:
    """One message; `checksum` fills data_crc32 (needed for CNXN/AUTH and for peers older than 0x01000001)."""
    crc = byte_sum(payload) if checksum else 0
    return HEADER.pack(command, arg0, arg1, len(payload), crc, command ^ 0xFFFFFFFF) + payload


def device_banner(props: dict[str, str], features: tuple[str, ...]) -> bytes:
    """The CNXN payload adbd sends: `device::ro.product.name=..;ro.product.model=..;ro.product.device=..;features=..`."""
    fields = [f"{key}={props.get(key, '')}" for key in ("ro.product.name", "ro.product.model", "ro.product.device")]
    fields.append("features=" + ",".join(features))
    return ("device::" + ";".join(fields)).encode()


def banner_features(payload: bytes | bytearray) -> frozenset[str]:
    """The feature names in a CNXN banner (`host::features=a,b,c`); NULs some clients append are dropped."""
    text = payload.rstrip(b"\0").decode("utf-8", errors="replace")
    _, _, props = text.partition("::")
    for field in props.split(";"):
        key, _, value = field.partition("=")
        if key == "features":
            return frozenset(name for name in value.split(",") if name)
    return frozenset()
