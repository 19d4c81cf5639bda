"""A raw AMQP 0-9-1 client for protocol-level tests: a plain socket, with pika's codec
(``pika.frame`` / ``pika.spec``) to encode what it sends and decode what comes back.

What a server answers is turned into plain tuples (``observe``) that compare equal between
RabbitMQ and the embedded server once the names a server generates, ports and the server
properties that say who it is are normalised. A closed socket is an observation too:
``EOF`` (the server closed it) or ``RESET`` (it reset it, as RabbitMQ's linger-0 sockets
do).
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import pika.frame
import pika.spec as S
from pika.amqp_object import Method as PikaMethod

__all__ = [
    "EOF",
    "PROTOCOL_HEADER",
    "RESET",
    "WAIT",
    "S",
    "Wire",
    "amqplain_response",
    "body",
    "describe",
    "header",
    "method",
    "normalise",
]

WAIT = 10.0  # seconds: the bound on every wait for a frame that must come
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
EOF = ("EOF",)
RESET = ("RESET",)

#: server properties that say which server this is, not how it behaves
_IDENTITY = ("platform", "copyright", "cluster_name", "information")
_GENERATED = re.compile(r"amq\.(gen|ctag)-[A-Za-z0-9_-]{22}")


def method(channel: int, m: PikaMethod) -> bytes:
    """The bytes of a method frame."""
    data: bytes = pika.frame.Method(channel, m).marshal()
    return data


def header(channel: int, body_size: int, properties: S.BasicProperties | None = None
           ) -> bytes:
    data: bytes = pika.frame.Header(channel, body_size,
                                    properties or S.BasicProperties()).marshal()
    return data


def body(channel: int, data: bytes) -> bytes:
    frame: bytes = pika.frame.Body(channel, data).marshal()
    return frame


def amqplain_response(user: str, password: str) -> bytes:
    """AMQPLAIN as py-amqp sends it: a field table without its 4-byte length."""
    out = b""
    for key, value in (("LOGIN", user), ("PASSWORD", password)):
        encoded = value.encode()
        out += bytes([len(key)]) + key.encode() + b"S" + struct.pack(">I", len(encoded))
        out += encoded
    return out


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return _GENERATED.sub(lambda m: f"amq.{m.group(1)}-*", value)
    return value


def describe(frame: Any) -> tuple[Any, ...]:
    """One decoded frame as a plain, comparable tuple."""
    if isinstance(frame, pika.frame.Method):
        m = frame.method
        fields = {k: _value(v) for k, v in vars(m).items()}
        return ("method", frame.channel_number, m.NAME, fields)
    if isinstance(frame, pika.frame.Header):
        props = {k: _value(v) for k, v in vars(frame.properties).items() if v is not None}
        return ("header", frame.channel_number, frame.body_size, props)
    if isinstance(frame, pika.frame.Body):
        return ("body", frame.channel_number, bytes(frame.fragment))
    if isinstance(frame, pika.frame.Heartbeat):
        return ("heartbeat",)
    raise TypeError(f"not a frame: {frame!r}")


def normalise(observed: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Drop what says which server answered: connection.start's identity properties."""
    out: list[tuple[Any, ...]] = []
    for item in observed:
        if item[:1] == ("method",) and item[2] == "Connection.Start":
            fields = dict(item[3])
            props = dict(fields["server_properties"])
            for key in _IDENTITY:
                if key in props:
                    props[key] = "*"
            fields["server_properties"] = props
            item = (*item[:3], fields)
        out.append(item)
    return out


class Wire:
    """One raw client connection to ``url``'s host and port."""

    def __init__(self, url: str, *, timeout: float = WAIT) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5672
        self.user = unquote(parts.username or "guest")
        self.password = unquote(parts.password or "guest")
        self.vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buffer = b""
        self.closed: tuple[str] | None = None

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- sending ----------------------------------------------------------------------

    def send(self, *pieces: bytes) -> None:
        self.sock.sendall(b"".join(pieces))

    def send_method(self, channel: int, m: PikaMethod) -> None:
        self.send(method(channel, m))

    # -- receiving --------------------------------------------------------------------

    def _fill(self, timeout: float) -> bool:
        """Read more bytes; False when the socket ended (``self.closed`` says how)."""
        if self.closed is not None:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.closed = RESET
            return False
        if not data:
            self.closed = EOF
            return False
        self.buffer += data
        return True

    def frame(self, timeout: float | None = None) -> Any:
        """The next frame (a pika frame object, or raw protocol-header bytes), or ``EOF`` /
        ``RESET``. Raises ``TimeoutError`` when nothing comes in ``timeout`` seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self.buffer[:4] == b"AMQP" and len(self.buffer) >= 8:
                raw, self.buffer = self.buffer[:8], self.buffer[8:]
                return raw
            if self.buffer and self.buffer[:1] != b"A":
                used, frame = pika.frame.decode_frame(self.buffer)
                if used:
                    self.buffer = self.buffer[used:]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no frame from {self.host}:{self.port} in time")
            try:
                if not self._fill(left):
                    return self.closed
            except TimeoutError:
                raise TimeoutError(f"no frame from {self.host}:{self.port} in time") from None

    def observe(self, timeout: float | None = None) -> tuple[Any, ...]:
        """The next frame, described (``("protocol-header", bytes)`` for a header)."""
        frame = self.frame(timeout)
        if isinstance(frame, bytes):
            return ("protocol-header", frame)
        if isinstance(frame, tuple):
            return frame
        return describe(frame)

    def expect(self, channel: int, kind: type) -> Any:
        """The next frame, which must be method ``kind`` on ``channel``; its method."""
        frame = self.frame()
        if not (isinstance(frame, pika.frame.Method) and frame.channel_number == channel
                and isinstance(frame.method, kind)):
            raise AssertionError(f"expected {kind.NAME} on channel {channel}, got {frame!r}")
        return frame.method

    def until_end(self, timeout: float | None = None) -> list[tuple[Any, ...]]:
        """Everything until the socket ends (``EOF`` or ``RESET`` last)."""
        seen: list[tuple[Any, ...]] = []
        while True:
            item = self.observe(timeout)
            seen.append(item)
            if item in (EOF, RESET):
                return seen

    def until_close(self, timeout: float | None = None) -> list[tuple[Any, ...]]:
        """Everything until the server's connection.close (answered with close-ok, as
        clients do) or the end of the socket."""
        seen: list[tuple[Any, ...]] = []
        while True:
            item = self.observe(timeout)
            seen.append(item)
            if item in (EOF, RESET):
                return seen
            if item[:3] == ("method", 0, "Connection.Close"):
                self.close_ok()
                return seen

    def close_ok(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_method(0, S.Connection.CloseOk())

    def until_sync(self, channel: int) -> list[tuple[Any, ...]]:
        """What the server sends before it answers a ``basic.qos`` (a no-op here) sent now
        on ``channel``: what methods without a reply answered, without waiting on time.
        Stops at a connection.close too (answered with close-ok)."""
        self.send_method(channel, S.Basic.Qos(prefetch_count=0))
        seen: list[tuple[Any, ...]] = []
        while True:
            item = self.observe()
            if item[:3] == ("method", channel, "Basic.QosOk"):
                return seen
            seen.append(item)
            if item in (EOF, RESET):
                return seen
            if item[:3] == ("method", 0, "Connection.Close"):
                self.close_ok()
                return seen

    # -- the handshake ----------------------------------------------------------------

    def start(self, *, client_properties: dict[str, Any] | None = None,
              mechanism: str = "PLAIN", response: bytes | None = None) -> Any:
        """Send the protocol header and start-ok; return connection.start."""
        self.send(PROTOCOL_HEADER)
        start = self.expect(0, S.Connection.Start)
        if response is None:
            response = (f"\0{self.user}\0{self.password}".encode() if mechanism == "PLAIN"
                        else amqplain_response(self.user, self.password))
        props = {"product": "msgbus wire tests"} if client_properties is None \
            else client_properties
        self.send_method(0, S.Connection.StartOk(props, mechanism, response, "en_US"))
        return start

    def open(self, *, channel_max: int = 2047, frame_max: int = 131072,
             heartbeat: int = 0, vhost: str | None = None, **start: Any) -> Any:
        """The whole handshake; returns connection.tune."""
        self.start(**start)
        tune = self.expect(0, S.Connection.Tune)
        self.send(method(0, S.Connection.TuneOk(channel_max, frame_max, heartbeat)),
                  method(0, S.Connection.Open(self.vhost if vhost is None else vhost)))
        self.expect(0, S.Connection.OpenOk)
        return tune

    def channel(self, number: int = 1) -> int:
        self.send_method(number, S.Channel.Open())
        self.expect(number, S.Channel.OpenOk)
        return number

    def publish(self, channel: int, routing_key: str, data: bytes, *, exchange: str = "",
                frame_max: int = 131072, properties: S.BasicProperties | None = None,
                mandatory: bool = False) -> None:
        """basic.publish with its content, the body split at ``frame_max``."""
        pieces = [method(channel, S.Basic.Publish(exchange=exchange, routing_key=routing_key,
                                                  mandatory=mandatory)),
                  header(channel, len(data), properties)]
        step = frame_max - 8
        pieces += [body(channel, data[i:i + step]) for i in range(0, len(data), step)]
        self.send(*pieces)

    def declare_queue(self, channel: int, name: str = "", **options: Any) -> str:
        self.send_method(channel, S.Queue.Declare(queue=name, **options))
        ok = self.expect(channel, S.Queue.DeclareOk)
        queue: str = ok.queue
        return queue

    def delete_queue(self, channel: int, name: str) -> None:
        self.send_method(channel, S.Queue.Delete(queue=name))
        self.expect(channel, S.Queue.DeleteOk)
