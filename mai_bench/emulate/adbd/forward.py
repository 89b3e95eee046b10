"""Port forwarding, as adbd does it (AOSP adb `services.cpp`, `socket_spec.cpp`, `adb.cpp`
handle_forward_request, `adb_listeners.cpp`). The device shares the host's network, so "the device's
127.0.0.1" is the host's.

- `tcp:PORT` and `tcp:localhost:PORT` (what `adb forward tcp:L tcp:PORT` opens): the device connects to
  127.0.0.1:PORT (then [::1]:PORT) and pumps bytes both ways; when either side closes, so does the other. A
  failed connect refuses the OPEN with a CLSE at once, and so does any other host (adbd: "adbd does not
  support arbitrary tcp connections"). `localabstract:`, `localreserved:`, `localfilesystem:`, `local:`,
  `vsock:`, `dev:`, `jdwp:` are not served: closed at once, like an unknown service.
- `reverse:` (`adb reverse`): `forward:[norebind:]LOCAL;REMOTE`, `killforward:LOCAL`, `killforward-all`,
  `list-forward`. LOCAL must be `tcp:PORT`, `tcp:localhost:PORT` or `tcp:[::1]:PORT` (the device listens on
  127.0.0.1, or ::1: unlike adbd's 0.0.0.0 for `tcp:PORT`, it never opens a port to the network); port 0
  picks a free one. Each accepted connection sends an OPEN for REMOTE, exactly as given (the adb server
  aborts on a device OPEN it did not see asked for), over the connection that asked for the forward, and
  pumps bytes both ways; a CLSE answer closes the accepted connection. The listeners are device-wide
  (listed and removed whatever connection asks) but belong to their connection: they close when it ends.

Replies on the `reverse:` stream (device side, so without the adb server's leading connect OKAY):
`OKAY`, plus `%04x` + the port for a tcp listener just bound; `FAIL` + `%04x` + message (`bad forward: ...`,
`bad killforward: ...`, `cannot rebind existing socket`, `cannot bind listener: ...`, `listener '...' not
found`, `not a reverse forwarding command`); list-forward: `%04x` + one `SERIAL LOCAL REMOTE\\n` line per
listener, SERIAL being `host-FD` as adbd names TCP transports.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from dataclasses import dataclass
from functools import partial

from mai_bench.emulate.adbd import protocol as p
from mai_bench.emulate.adbd.state import DeviceState
from mai_bench.emulate.adbd.transport import Connection, Service, Stream, StreamClosed

log = logging.getLogger("mai_bench.adbd")

DEFAULT_PORT = 5555  # `tcp:HOST` without a port (adb's DEFAULT_ADB_LOCAL_TRANSPORT_PORT)
# A connect to a loopback port succeeds or is refused at once; only a listener whose backlog is full makes it
# wait (for a SYN retry a second later). adbd connects on its main thread too.
CONNECT_TIMEOUT_S = 2.0
_OTHER_SOCKET_SPECS = ("local:", "localreserved:", "localabstract:", "localfilesystem:", "vsock:", "acceptfd:")
_PORT = re.compile(r"[+-]?[0-9]+")


def lookup(name: str, conn: Connection) -> Service | None:
    if name.startswith("tcp:"):
        sock = _connect(name)
        return None if sock is None else partial(_serve_socket, sock=sock)
    if name.startswith("reverse:"):
        return partial(_reverse, conn=conn, command=name[len("reverse:"):])
    return None


def parse_tcp(spec: str) -> tuple[str, int]:
    """`tcp:PORT` -> ("", PORT); `tcp:HOST`, `tcp:HOST:PORT`, `tcp:[V6]:PORT` -> (HOST, PORT). ValueError."""
    rest = spec[len("tcp:"):]
    if _PORT.fullmatch(rest):
        port = int(rest)
        if not 0 <= port <= 65535:
            raise ValueError(f"bad port number '{port}'")
        return "", port
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"bad IPv6 address '{rest}'")
        port_text = tail[1:] if tail else None
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, None
    if not host:
        raise ValueError(f"no host in '{rest}'")
    if port_text is None:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"bad port number '{port_text}'")
    return host, int(port_text)


# -- tcp:PORT, opened by the host


def _connect(spec: str) -> socket.socket | None:
    try:
        host, port = parse_tcp(spec)
    except ValueError as error:
        log.info("OPEN %r: %s", spec, error)
        return None
    if host not in ("", "localhost"):
        log.info("OPEN %r: adbd does not support arbitrary tcp connections", spec)
        return None
    error: OSError | None = None
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:  # no IPv6
            error = e
            continue
        try:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect((address, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            error = e
            continue
        return sock
    log.info("OPEN %r: cannot connect: %s", spec, error)
    return None


async def _serve_socket(stream: Stream, sock: socket.socket) -> None:
    try:
        reader, writer = await asyncio.open_connection(sock=sock, limit=p.MAX_PAYLOAD)
    except BaseException:
        sock.close()
        raise
    try:
        await _pump(stream, reader, writer)
    finally:
        writer.close()


async def _pump(stream: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side ends; the caller closes both."""

    async def host_to_socket() -> None:
        while (data := await stream.read()) is not None:
            writer.write(data)
            await writer.drain()

    async def socket_to_host() -> None:
        while data := await reader.read(stream.max_payload):
            await stream.write(data)

    tasks = [asyncio.create_task(host_to_socket()), asyncio.create_task(socket_to_host())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = task.exception()
        if error is not None and not isinstance(error, (StreamClosed, ConnectionError)):
            raise error


# -- reverse:


@dataclass(eq=False)
class Listener:
    """One `adb reverse` listener: connections to it are sent to `connect_to` on the host over `conn`."""

    conn: Connection
    connect_to: str
    server: asyncio.Server | None = None


async def _reverse(stream: Stream, conn: Connection, command: str) -> None:
    await stream.write(await _forward_request(conn, command))


async def _forward_request(conn: Connection, command: str) -> bytes:
    listeners: dict[str, Listener] = conn.state.listeners
    if command == "list-forward":
        return _protocol_string("".join(f"{_serial(listener.conn)} {name} {listener.connect_to}\n"
                                        for name, listener in listeners.items()))
    if command == "killforward-all":
        for name in list(listeners):
            _remove(conn.state, name)
        return b"OKAY"
    if command.startswith("killforward:"):
        local = command[len("killforward:"):]
        if not local or ";" in local:
            return _fail(f"bad killforward: {local}")
        if local not in listeners:
            return _fail(f"listener '{local}' not found")
        _remove(conn.state, local)
        return b"OKAY"
    if command.startswith("forward:"):
        rest = command[len("forward:"):]
        no_rebind = rest.startswith("norebind:")
        if no_rebind:
            rest = rest[len("norebind:"):]
        pieces = rest.split(";")
        if len(pieces) != 2 or not pieces[0] or not pieces[1] or pieces[1].startswith("*"):
            return _fail(f"bad forward: {rest}")
        return await _install(conn, *pieces, no_rebind=no_rebind)
    return _fail("not a reverse forwarding command")


async def _install(conn: Connection, local: str, remote: str, *, no_rebind: bool) -> bytes:
    state = conn.state
    existing = state.listeners.get(local)
    if existing is not None:
        if no_rebind:
            return _fail("cannot rebind existing socket")
        existing.connect_to = remote
        existing.conn = conn
        _watch(conn)
        return b"OKAY"
    try:
        sock = _listen(local)
    except ValueError as error:
        return _fail(f"cannot bind listener: {error}")
    except OSError as error:
        return _fail(f"cannot bind listener: {error.strerror or error}")
    port = sock.getsockname()[1]
    if conn not in state.connections:  # ended meanwhile: its listeners are gone already
        sock.close()
        return _fail("cannot bind listener: the connection ended")
    listener = Listener(conn, remote)
    # Not serving yet, so nothing awaits between here and the registration below.
    listener.server = await asyncio.start_server(partial(_accepted, listener), sock=sock, limit=p.MAX_PAYLOAD,
                                                 start_serving=False)
    name = f"tcp:{port}"  # adbd renames a tcp listener after the port it got (tcp:0, tcp:localhost:N)
    state.listeners[name] = listener
    _watch(conn)
    await listener.server.start_serving()
    log.info("reverse %s -> %s (was %s)", name, remote, local)
    return b"OKAY" + _protocol_string(str(port))


def _listen(local: str) -> socket.socket:
    if local.startswith(_OTHER_SOCKET_SPECS):
        raise ValueError("a mai-bench loopback device listens on tcp: only")
    if not local.startswith("tcp:"):
        raise ValueError(f"unknown socket specification:{local}")
    host, port = parse_tcp(local)
    if host in ("", "localhost"):
        family, address = socket.AF_INET, "127.0.0.1"
    elif host == "::1":
        family, address = socket.AF_INET6, "::1"
    else:
        raise ValueError("listening on specified hostname currently unsupported")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen()
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def _accepted(listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn, connect_to = listener.conn, listener.connect_to
    try:
        stream = await conn.open(connect_to)
        if stream is None:
            return
        try:
            await _pump(stream, reader, writer)
        finally:
            await stream.close()
    except (StreamClosed, ConnectionError):
        pass
    except Exception:
        log.exception("reverse connection to %r failed", connect_to)
    finally:
        writer.close()


def _remove(state: DeviceState, name: str) -> None:
    """Stop listening; connections already made go on (as in adbd)."""
    listener = state.listeners.pop(name)
    if listener.server is not None:
        listener.server.close()
    log.info("reverse %s removed", name)


def _watch(conn: Connection) -> None:
    if _connection_ended not in conn.on_end:
        conn.on_end.append(_connection_ended)


def _connection_ended(conn: Connection) -> None:
    for name, listener in list(conn.state.listeners.items()):
        if listener.conn is conn:
            _remove(conn.state, name)


def _serial(conn: Connection) -> str:
    """adbd names a TCP transport `host-FD` after its socket's descriptor."""
    transport = conn.wire.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    fd = sock.fileno() if sock is not None else -1
    return f"host-{fd}" if fd >= 0 else "(reverse)"


def _protocol_string(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % len(data) + data


def _fail(message: str) -> bytes:
    return b"FAIL" + _protocol_string(message)
