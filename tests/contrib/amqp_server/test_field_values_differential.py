"""Field values at the edges of what RabbitMQ 3.10 reads, differential: floating-point
values that are not finite and timestamps past the year 9999 in field tables, and short
strings that are not UTF-8 (which RabbitMQ refuses in methods without content, and takes as
bytes in ``basic.publish``). Each scenario is sent as raw frames to RabbitMQ and to the
embedded server; the frames that come back must be the same."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contrib.amqp_server.conftest import Differential, Observed
from tests.contrib.amqp_server.wire import S, Wire, body, header, method

pytestmark = pytest.mark.rabbitmq

MARK = b"@@"  # stands for the bytes put in place of a name once pika has encoded it


def opened(url: str) -> Wire:
    wire = Wire(url)
    wire.open()
    wire.channel(1)
    return wire


def with_bytes(frame: bytes, raw: bytes) -> bytes:
    """``frame`` (encoded with a name holding ``MARK``) with ``MARK`` replaced by ``raw``:
    a short string of any bytes, its length octet set to match."""
    at = frame.index(MARK)
    length = frame[at - 1] - len(MARK) + len(raw)
    payload = frame[7:-1]
    start = at - 7
    payload = payload[:start - 1] + bytes([length]) + payload[start:].replace(MARK, raw, 1)
    return frame[:3] + struct.pack(">I", len(payload)) + payload + b"\xce"


def retyped(frame: bytes, key: str, kind: bytes, value: bytes) -> bytes:
    """``frame`` with the table value under ``key`` -- an integer pika encoded in as many
    bytes as ``value`` (``I``: 4, ``l``: 8) -- replaced by a value of type ``kind``, which
    pika cannot encode."""
    at = frame.index(bytes([len(key)]) + key.encode()) + 1 + len(key)
    return frame[:at] + kind + value + frame[at + 1 + len(value):]


def declare_with(queue: str, kind: bytes, value: bytes) -> bytes:
    """queue.declare (auto-delete) with the argument ``x-a`` of type ``kind``."""
    placeholder = 7 if len(value) == 4 else 2**40
    frame = method(1, S.Queue.Declare(queue=queue, auto_delete=True,
                                      arguments={"x-a": placeholder}))
    return retyped(frame, "x-a", kind, value)


# -- floating-point values and timestamps in field tables ------------------------------


@pytest.mark.parametrize(("kind", "value"), [
    pytest.param(b"d", struct.pack(">d", float("nan")), id="double-nan"),
    pytest.param(b"d", struct.pack(">d", float("inf")), id="double-infinity"),
    pytest.param(b"d", struct.pack(">d", float("-inf")), id="double-minus-infinity"),
    pytest.param(b"f", struct.pack(">f", float("nan")), id="float-nan"),
])
def test_a_float_that_is_not_finite_drops_the_client(differential: Differential, kind: bytes,
                                                      value: bytes) -> None:
    # Erlang has no such float: RabbitMQ's reader cannot decode the table and stops
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(declare_with(tag, kind, value))
            return wire.until_end()

    differential.same(scenario)


@pytest.mark.parametrize("seconds", [10**12, 2**63, 2**64 - 1])
def test_a_timestamp_past_the_year_9999_is_taken(differential: Differential,
                                                 seconds: int) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(declare_with(tag, b"T", struct.pack(">Q", seconds)))
            seen = [wire.observe()]
            seen += wire.until_sync(1)
            return seen

    assert differential.same(scenario)[0][2] == "Queue.DeclareOk"


def test_a_headers_exchange_matches_a_timestamp_past_the_year_9999(
        differential: Differential) -> None:
    late = b"\x80" + b"\x00" * 7  # 2**63 seconds

    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            x, matched, other = f"{tag}-x", f"{tag}-matched", f"{tag}-other"
            wire.send_method(1, S.Exchange.Declare(exchange=x, type="headers",
                                                   auto_delete=True))
            wire.expect(1, S.Exchange.DeclareOk)
            for q in (matched, other):
                wire.declare_queue(1, q, auto_delete=True)
            # bindings on {"when": <timestamp>}: one the same, one a second later
            for q, value in ((matched, late), (other, b"\x80" + b"\x00" * 6 + b"\x01")):
                wire.send(retyped(method(1, S.Queue.Bind(
                    queue=q, exchange=x, arguments={"x-match": "all", "when": 2**40})),
                    "when", b"T", value))
                wire.expect(1, S.Queue.BindOk)
            headers = retyped(header(1, 1, S.BasicProperties(headers={"when": 2**40})),
                              "when", b"T", late)
            wire.send(method(1, S.Basic.Publish(exchange=x, routing_key="")), headers,
                      body(1, b"x"))
            seen = wire.until_sync(1)
            for q in (matched, other):
                wire.send_method(1, S.Queue.Declare(queue=q, passive=True))
                seen.append(("count", q.removeprefix(tag), wire.expect(
                    1, S.Queue.DeclareOk).message_count))
            return seen

    assert differential.same(scenario)[-2:] == [("count", "-matched", 1),
                                                 ("count", "-other", 0)]


# -- short strings that are not UTF-8 ---------------------------------------------------

NOT_UTF8 = b"\xff\xfe"


def _in_consume_after_a_declare(tag: str) -> bytes:
    return (method(1, S.Queue.Declare(queue=tag, auto_delete=True))
            + with_bytes(method(1, S.Basic.Consume(queue=tag, consumer_tag="@@")), NOT_UTF8))


@pytest.mark.parametrize("sent", [
    pytest.param(lambda tag: with_bytes(method(1, S.Queue.Declare(queue="a@@")), NOT_UTF8),
                 id="queue-declare-name"),
    pytest.param(lambda tag: with_bytes(method(1, S.Exchange.Declare(exchange="@@")),
                                        NOT_UTF8), id="exchange-declare-name"),
    pytest.param(lambda tag: with_bytes(method(1, S.Exchange.Declare(
        exchange=tag, type="di@@")), NOT_UTF8), id="exchange-declare-type"),
    pytest.param(lambda tag: with_bytes(method(1, S.Queue.Bind(
        queue="q", exchange="x", routing_key="@@")), NOT_UTF8), id="queue-bind-key"),
    pytest.param(lambda tag: with_bytes(method(1, S.Basic.Get(queue="@@")), NOT_UTF8),
                 id="basic-get"),
    pytest.param(lambda tag: with_bytes(method(1, S.Channel.Close(200, "@@", 0, 0)),
                                        NOT_UTF8), id="channel-close-text"),
    pytest.param(_in_consume_after_a_declare, id="after-a-good-method-in-the-same-write"),
])
def test_a_short_string_that_is_not_utf8(differential: Differential,
                                         sent: Callable[[str], bytes]) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(sent(tag))
            return wire.until_close()

    closed = differential.same(scenario)
    assert closed[-1][3]["reply_code"] == 501


def test_basic_publish_takes_names_of_any_bytes_and_gives_them_back(
        differential: Differential) -> None:
    raw_key = b"key-\xff\xc3"

    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            x, q = f"{tag}-fanout", f"{tag}-q"
            wire.send_method(1, S.Exchange.Declare(exchange=x, type="fanout",
                                                   auto_delete=True))
            wire.expect(1, S.Exchange.DeclareOk)
            wire.declare_queue(1, q, auto_delete=True)
            wire.send_method(1, S.Queue.Bind(queue=q, exchange=x))
            wire.expect(1, S.Queue.BindOk)
            publish = method(1, S.Basic.Publish(exchange=x, routing_key="@@", mandatory=True))
            wire.send(with_bytes(publish, raw_key), header(1, 3), body(1, b"abc"))
            wire.send_method(1, S.Basic.Get(queue=q, no_ack=True))
            seen = [wire.observe(), wire.observe(), wire.observe()]  # get-ok, header, body
            unroutable = method(1, S.Basic.Publish(exchange="", routing_key="@@",
                                                   mandatory=True))
            wire.send(with_bytes(unroutable, raw_key), header(1, 1), body(1, b"r"))
            seen += [wire.observe(), wire.observe(), wire.observe()]  # return, header, body
            missing = method(1, S.Basic.Publish(exchange="@@", routing_key="k"))
            wire.send(with_bytes(missing, b"no-\xff"), header(1, 1), body(1, b"m"))
            seen.append(wire.observe())  # channel.close: 404
            return seen

    seen = differential.same(scenario)
    assert seen[0][3]["routing_key"] == raw_key.decode("utf-8", "surrogateescape")
    assert seen[-1][3]["reply_code"] == 404


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.binary(min_size=1, max_size=12))
def test_any_bytes_as_a_queue_name(differential: Differential, name: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            frame = with_bytes(method(1, S.Queue.Declare(queue="@@", exclusive=True,
                                                         passive=True)), name)
            wire.send(frame)
            return [wire.observe()]

    differential.same(scenario)
