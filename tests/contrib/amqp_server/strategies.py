"""Hypothesis strategies for the AMQP server's wire: valid frame streams a client could send
once connected, mutations of them (bytes flipped, cut, inserted, frames repeated or
dropped), and plain random bytes.

A stream starts after the handshake (the test opens the connection first) or, for
``handshakes``, from the first byte."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from tests.contrib.amqp_server.wire import (
    PROTOCOL_HEADER,
    S,
    amqplain_response,
    body,
    header,
    method,
)

__all__ = [
    "client_frames",
    "frame_streams",
    "handshakes",
    "mutated",
    "random_bytes",
    "raw_name_frames",
    "raw_tables",
    "streams",
    "table_frames",
]

_NAMES = st.sampled_from(["q", "x", "", "amq.direct", "amq.topic", "amq.rabbitmq.reply-to",
                          "café", "a" * 255])
_CHANNELS = st.sampled_from([0, 1, 1, 1, 2, 65535])
_TAGS = st.integers(min_value=0, max_value=5)
_TABLES = st.sampled_from([{}, {"x-max-length": 1}, {"x-message-ttl": 0},
                           {"x-queue-type": "quorum"}, {"x-match": "any", "a": 1}])


def _methods(channel: int) -> st.SearchStrategy[bytes]:
    """One method frame of what a client sends, with plausible arguments."""
    m = st.one_of(
        st.builds(S.Channel.Open),
        st.builds(S.Channel.Close, st.just(200), st.just(""), st.just(0), st.just(0)),
        st.builds(S.Channel.CloseOk),
        st.builds(S.Channel.Flow, st.booleans()),
        st.builds(S.Exchange.Declare, exchange=_NAMES,
                  type=st.sampled_from(["direct", "fanout", "topic", "headers", "nope"]),
                  passive=st.booleans(), durable=st.booleans(), nowait=st.booleans(),
                  arguments=_TABLES),
        st.builds(S.Exchange.Delete, exchange=_NAMES, nowait=st.booleans()),
        st.builds(S.Queue.Declare, queue=_NAMES, passive=st.booleans(),
                  exclusive=st.booleans(), auto_delete=st.booleans(), nowait=st.booleans(),
                  arguments=_TABLES),
        st.builds(S.Queue.Bind, queue=_NAMES, exchange=_NAMES, routing_key=_NAMES,
                  nowait=st.booleans(), arguments=_TABLES),
        st.builds(S.Queue.Purge, queue=_NAMES, nowait=st.booleans()),
        st.builds(S.Queue.Delete, queue=_NAMES, nowait=st.booleans()),
        st.builds(S.Basic.Qos, prefetch_count=st.integers(0, 3), global_qos=st.booleans()),
        st.builds(S.Basic.Consume, queue=_NAMES, no_ack=st.booleans(),
                  exclusive=st.booleans(), nowait=st.booleans()),
        st.builds(S.Basic.Cancel, consumer_tag=_NAMES, nowait=st.booleans()),
        st.builds(S.Basic.Get, queue=_NAMES, no_ack=st.booleans()),
        st.builds(S.Basic.Ack, delivery_tag=_TAGS, multiple=st.booleans()),
        st.builds(S.Basic.Nack, delivery_tag=_TAGS, multiple=st.booleans(),
                  requeue=st.booleans()),
        st.builds(S.Basic.Reject, delivery_tag=_TAGS, requeue=st.booleans()),
        st.builds(S.Basic.Recover, requeue=st.booleans()),
        st.builds(S.Confirm.Select, nowait=st.booleans()),
        st.builds(S.Tx.Select), st.builds(S.Tx.Commit), st.builds(S.Tx.Rollback),
    )
    return m.map(lambda made: method(channel, made))


@st.composite
def _publish(draw: st.DrawFn, channel: int) -> bytes:
    data = draw(st.binary(max_size=300))
    frame_body = draw(st.integers(min_value=1, max_value=200))
    properties = draw(st.sampled_from([
        S.BasicProperties(),
        S.BasicProperties(content_type="text/plain", delivery_mode=2, priority=3),
        S.BasicProperties(headers={"a": 1, "b": [1, "x"], "c": {"d": None}},
                          expiration="0", reply_to="amq.rabbitmq.reply-to"),
    ]))
    pieces = [method(channel, S.Basic.Publish(
        exchange=draw(_NAMES), routing_key=draw(_NAMES), mandatory=draw(st.booleans()))),
        header(channel, len(data), properties)]
    pieces += [body(channel, data[i:i + frame_body]) for i in range(0, len(data), frame_body)]
    return b"".join(pieces)


def _shortstr(text: bytes) -> bytes:
    return bytes([len(text)]) + text


#: values at the edges of what the codecs take: floats that are not finite, the smallest
#: and largest doubles, timestamps before 1970 (read as unsigned) and past the year 9999
_EDGE_VALUES = st.sampled_from([
    b"d" + struct.pack(">d", float("nan")), b"d" + struct.pack(">d", float("inf")),
    b"d" + struct.pack(">d", -float("inf")), b"f" + struct.pack(">f", float("nan")),
    b"d" + struct.pack(">d", 5e-324), b"f" + struct.pack(">f", 3.4e38),
    b"T" + struct.pack(">Q", 2**64 - 1), b"T" + struct.pack(">Q", 10**12),
    b"D" + struct.pack(">Bi", 255, -(2**31)), b"l" + struct.pack(">q", -(2**63)),
])


@st.composite
def raw_tables(draw: st.DrawFn) -> bytes:
    """The bytes of a field table (without its length) that may not parse: a key, a type
    letter (any byte), and whatever follows -- or a value at the edge of what parses."""
    entries = b""
    for _ in range(draw(st.integers(1, 3))):
        entries += _shortstr(draw(st.sampled_from([b"x-a", b"", b"k" * 255, b"\xff\xfe"])))
        if draw(st.booleans()):
            entries += draw(_EDGE_VALUES)
            continue
        entries += bytes([draw(st.integers(0, 255))])
        entries += draw(st.binary(max_size=24))
    return entries


@st.composite
def raw_name_frames(draw: st.DrawFn, channel: int) -> bytes:
    """A method whose one name is any bytes (RabbitMQ takes only UTF-8 in methods without
    content, and anything in a publish)."""
    name = draw(st.binary(max_size=12))
    made = draw(st.sampled_from([
        S.Queue.Declare(queue="@@", auto_delete=True), S.Queue.Delete(queue="@@"),
        S.Exchange.Declare(exchange="@@", type="fanout", auto_delete=True),
        S.Basic.Consume(queue="@@"), S.Basic.Cancel(consumer_tag="@@"),
        S.Basic.Get(queue="@@"), S.Basic.Publish(exchange="", routing_key="@@"),
        S.Basic.Publish(exchange="@@", routing_key="q"),
    ]))
    frame = method(channel, made)
    at = frame.index(b"@@")
    payload = (frame[7:at - 1] + bytes([frame[at - 1] - 2 + len(name)]) + name
               + frame[at + 2:-1])
    raw = struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"
    if isinstance(made, S.Basic.Publish):
        raw += header(channel, 1) + body(channel, b"x")
    return raw


@st.composite
def table_frames(draw: st.DrawFn, channel: int) -> bytes:
    """A queue.declare whose arguments, or a publish whose headers, are ``raw_tables``."""
    table = draw(raw_tables())
    length = struct.pack(">I", len(table) + draw(st.sampled_from([0, 0, 0, -1, 1])))
    if draw(st.booleans()):
        payload = (struct.pack(">HHH", 50, 10, 0) + _shortstr(b"q") + b"\x08" + length
                   + table)
        return struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"
    props = struct.pack(">HHQH", 60, 0, 1, 0x2000) + length + table
    return (method(channel, S.Basic.Publish(routing_key="q"))
            + struct.pack(">BHI", 2, channel, len(props)) + props + b"\xce"
            + body(channel, b"x"))


@st.composite
def client_frames(draw: st.DrawFn) -> list[bytes]:
    """One step of a client: a method, or a publish with its content, or a heartbeat."""
    channel = draw(_CHANNELS)
    kind = draw(st.sampled_from(["method", "method", "publish", "heartbeat", "table",
                                 "name"]))
    if kind == "table":
        return [draw(table_frames(channel))]
    if kind == "name":
        return [draw(raw_name_frames(channel))]
    if kind == "heartbeat":
        return [b"\x08\x00\x00\x00\x00\x00\x00\xce"]
    if kind == "publish":
        return [draw(_publish(channel))]
    return [draw(_methods(channel))]


def frame_streams() -> st.SearchStrategy[list[bytes]]:
    """Valid frames a connected client could send (channel 1 opened first, mostly)."""
    opening = st.sampled_from([[method(1, S.Channel.Open())], []])
    steps = st.lists(client_frames(), max_size=12).map(
        lambda lists: [frame for frames in lists for frame in frames])
    return st.tuples(opening, steps).map(lambda pair: pair[0] + pair[1])


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[list[bytes]]) -> bytes:
    """``frames`` joined, then damaged a few times."""
    chunks = list(draw(frames))
    if chunks and draw(st.booleans()):
        i = draw(st.integers(0, len(chunks) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "swap"]))
        if action == "drop":
            del chunks[i]
        elif action == "repeat":
            chunks.insert(i, chunks[i])
        elif len(chunks) > 1:
            j = draw(st.integers(0, len(chunks) - 1))
            chunks[i], chunks[j] = chunks[j], chunks[i]
    data = bytearray(b"".join(chunks))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "set", "insert", "cut", "truncate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            # frame ends, extremes, and field-type letters (a table's values change type)
            data[position] = draw(st.sampled_from(b"\x00\xce\xff\x7f\x80ZSFAtIlx"))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif action == "cut" and data:
            del data[position:position + draw(st.integers(1, 16))]
        elif action == "truncate":
            del data[position:]
    return bytes(data)


def random_bytes() -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=2000)


@st.composite
def _amqplain_start_ok(draw: st.DrawFn) -> bytes:
    """A start-ok whose AMQPLAIN response is a table that may not parse."""
    response = draw(st.one_of(raw_tables(), st.binary(max_size=40)))
    return method(0, S.Connection.StartOk({"product": "fuzz"}, "AMQPLAIN", response, "en_US"))


def handshakes() -> st.SearchStrategy[bytes]:
    """A client's first bytes: the protocol header and start-ok, tune-ok and open, damaged
    or not (``st.just`` the intact one too)."""
    start_oks = [
        method(0, S.Connection.StartOk(
            {"product": "fuzz", "capabilities": {"authentication_failure_close": True}},
            "PLAIN", b"\0guest\0guest", "en_US")),
        method(0, S.Connection.StartOk({"product": "fuzz"}, "AMQPLAIN",
                                       amqplain_response("guest", "guest"), "en_US")),
    ]
    rest = [method(0, S.Connection.TuneOk(2047, 131072, 0)), method(0, S.Connection.Open("/"))]
    intact = st.sampled_from([[PROTOCOL_HEADER, start_ok, *rest] for start_ok in start_oks])
    raw_login = _amqplain_start_ok().map(lambda start_ok: PROTOCOL_HEADER + start_ok)
    return st.one_of(intact.map(b"".join), mutated(intact), raw_login)


def streams() -> st.SearchStrategy[tuple[bool, bytes]]:
    """(whether to open the connection first, the bytes to send then)."""
    return st.one_of(
        st.tuples(st.just(True), mutated(frame_streams())),
        st.tuples(st.just(True), frame_streams().map(b"".join)),
        st.tuples(st.just(True), random_bytes()),
        st.tuples(st.just(False), handshakes()),
        st.tuples(st.just(False), random_bytes()),
    )
