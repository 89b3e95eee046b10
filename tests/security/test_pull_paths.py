"""Pulled files never land outside their destination: `Device.pull` writes exactly the local file it is
given (through a temporary file in the same folder), whatever the remote name holds, and a refused or failed
pull leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from mai_bench.device.device import Device
from mai_bench.device.errors import DeviceError

TMP = "/data/local/tmp/pull-test"


def _tree(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def test_pull_writes_only_its_destination_whatever_the_remote_name(adb_server, loopback, tmp_path: Path) -> None:
    device = Device(loopback.one().serial, adb_server.address)
    source = tmp_path / "source.bin"
    source.write_bytes(b"measured\x00bytes" * 100)
    hostile = f"{TMP}/..hidden name;$(touch pwned)\n"
    device.push(source, hostile, 30)
    destination = tmp_path / "pulled"
    destination.mkdir()
    before = _tree(tmp_path)

    target = destination / "copy.bin"
    assert device.pull(hostile, target, 30) == source.stat().st_size
    assert target.read_bytes() == source.read_bytes()
    assert _tree(tmp_path) == before | {Path("pulled/copy.bin")}, "nothing but the destination file appeared"

    for escape in (f"{TMP}/../../../../../../etc/passwd", f"{TMP}/x/../../../../../../../tmp"):
        with pytest.raises(DeviceError, match="cannot pull"):
            device.pull(escape, destination / "escape.bin", 30)
    with pytest.raises(ValueError, match="is a folder"):
        device.pull(hostile, destination, 30)
    assert _tree(tmp_path) == before | {Path("pulled/copy.bin")}, "refused pulls leave no file or partial file"
    assert not list(tmp_path.rglob("pwned")) and not list(Path.cwd().glob("pwned"))
