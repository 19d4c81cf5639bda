"""Bad input to the embedded server: garbage, truncated frames, frames over frame_max,
unknown ids, a body of 2^63 bytes announced, thousands of channels, clients vanishing
mid-frame and mid-content. The bad connection is closed; every other connection and the
broker carry on, memory stays bounded, and nothing acknowledged is lost."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator

import pika
import pytest

from contrib.amqp_server import AmqpServer
from tests.contrib.amqp_server.conftest import round_trip, wait_until
from tests.contrib.amqp_server.wire import (
    EOF,
    RESET,
    S,
    Wire,
    amqplain_response,
    body,
    header,
    method,
)
from transports.memory import Broker

KEPT = b"acknowledged before the bad client came"


class Bystander:
    """What must survive a bad client: a message published with confirms and acked by the
    broker before it came, and a pika connection opened before it."""

    def __init__(self, server: AmqpServer, broker: Broker) -> None:
        self.server, self.broker = server, broker
        self.connection = pika.BlockingConnection(pika.URLParameters(server.url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()  # basic_publish returns once the broker acked
        self.channel.queue_declare("kept", durable=True)
        self.channel.basic_publish("", "kept", KEPT,
                                   pika.BasicProperties(delivery_mode=2))
        self.connections = len(broker.connections())

    def check(self) -> None:
        """The bad connection is gone; the rest carries on."""
        wait_until(lambda: len(self.broker.connections()) == self.connections,
                   "the bad client's connection is closed in the broker")
        # the bystander's connection still works, and the acked message is still there
        self.channel.queue_declare("kept", passive=True)
        method_frame, _, got = self.channel.basic_get("kept", auto_ack=False)
        assert method_frame is not None and got == KEPT
        self.channel.basic_nack(method_frame.delivery_tag, requeue=True)
        # and a fresh client can connect and round-trip a message
        round_trip(self.server.url, "after-the-bad-client")


@pytest.fixture
def bystander(msgbus_amqp_server: AmqpServer, msgbus_broker: Broker) -> Iterator[Bystander]:
    made = Bystander(msgbus_amqp_server, msgbus_broker)
    yield made
    made.connection.close()


def opened(url: str, **tune: int) -> Wire:
    wire = Wire(url)
    wire.open(**tune)
    wire.channel(1)
    return wire


def rss() -> int:
    """This process's resident memory in bytes (the server runs in one of its threads)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


GARBAGE = bytes(range(256)) * 8


@pytest.mark.parametrize("when", ["instead-of-the-header", "after-the-header",
                                  "after-start-ok", "once-open"])
def test_garbage(bystander: Bystander, when: str) -> None:
    with Wire(bystander.server.url) as wire:
        if when == "after-the-header":
            wire.send(b"AMQP\x00\x00\x09\x01")
            wire.expect(0, S.Connection.Start)
        elif when == "after-start-ok":
            wire.start()
            wire.expect(0, S.Connection.Tune)
        elif when == "once-open":
            wire.open()
            wire.channel(1)
        wire.send(GARBAGE)
        observed = wire.until_close()
    assert observed[-1] in (EOF, RESET) or observed[-1][3]["reply_code"] == 501
    bystander.check()


@pytest.mark.parametrize("sent", [
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x64" + b"\x00\x3c" * 5, id="method-frame"),
    pytest.param(b"\x01\x00\x01\x00\x00", id="frame-header"),
    pytest.param(method(1, S.Basic.Publish(routing_key="kept")) + header(1, 10)[:9],
                 id="content-header"),
    pytest.param(method(1, S.Basic.Publish(routing_key="kept")) + header(1, 10)
                 + body(1, b"01234"), id="between-body-frames"),
    pytest.param(method(1, S.Basic.Publish(routing_key="kept")) + header(1, 10)
                 + body(1, b"0123456789")[:10], id="in-a-body-frame"),
])
def test_a_client_vanishing_mid_frame(bystander: Bystander, sent: bytes) -> None:
    with opened(bystander.server.url) as wire:
        wire.send(sent)
    bystander.check()
    assert bystander.broker.queue("kept").messages_ready == 1  # nothing half-published


def test_a_consumer_vanishing_mid_frame_gives_its_messages_back(bystander: Bystander
                                                                ) -> None:
    with opened(bystander.server.url) as wire:
        wire.send_method(1, S.Basic.Consume(queue="kept", consumer_tag="c"))
        wire.expect(1, S.Basic.ConsumeOk)
        assert wire.observe()[2] == "Basic.Deliver"
        assert bystander.broker.queue("kept").messages_unacknowledged == 1
        wire.send(method(1, S.Basic.Ack(delivery_tag=1))[:9])  # half an ack
    bystander.check()
    method_frame, _, got = bystander.channel.basic_get("kept", auto_ack=True)
    assert got == KEPT and method_frame.redelivered


@pytest.mark.parametrize("size", [131073, 1 << 30, 0xFFFFFFFF])
def test_a_frame_over_frame_max_is_refused_before_it_is_read(bystander: Bystander,
                                                             size: int) -> None:
    with opened(bystander.server.url) as wire:
        wire.send(struct.pack(">BHI", 3, 1, size) + b"x" * 100)
        close = wire.until_close()[0]
    assert close[3]["reply_code"] == 501 and "frame_too_large" in close[3]["reply_text"]
    bystander.check()


@pytest.mark.parametrize("ids", [(0xFF, 10), (60, 0x63), (0xFFFF, 0xFFFF), (10, 0x63)])
def test_unknown_class_or_method_ids(bystander: Bystander, ids: tuple[int, int]) -> None:
    with opened(bystander.server.url) as wire:
        channel = 0 if ids[0] == 10 else 1
        wire.send(struct.pack(">BHIHH", 1, channel, 4, *ids) + b"\xce")
        assert wire.until_close()[-1] in (EOF, RESET)
    bystander.check()


def test_a_content_of_2_63_bytes_announced_is_not_buffered(bystander: Bystander) -> None:
    """The body frames keep coming (32 MiB of them) but the server does not keep them:
    the message could never be taken (RabbitMQ's max is 128 MiB)."""
    chunk = body(1, b"x" * (131072 - 8))
    with opened(bystander.server.url) as wire:
        wire.send(method(1, S.Basic.Publish(routing_key="kept")), header(1, 2 ** 63))
        wire.channel(2)  # the server read the header and goes on
        before = rss()
        for _ in range(256):
            wire.send(chunk)
        wire.channel(3)  # everything sent so far has been read
        grown = rss() - before
    assert grown < 8 << 20, f"memory grew by {grown} bytes for 32 MiB of body sent"
    bystander.check()
    assert bystander.broker.queue("kept").messages_ready == 1


def test_a_content_just_over_the_maximum_message_size(bystander: Bystander) -> None:
    size = 134217728 + 1
    chunk = b"x" * (131072 - 8)
    with opened(bystander.server.url) as wire:
        wire.send(method(1, S.Basic.Publish(routing_key="kept")), header(1, size))
        before = rss()
        sent = 0
        while sent < size:
            piece = chunk[:size - sent]
            wire.send(body(1, piece))
            sent += len(piece)
        close = wire.observe()
        grown = rss() - before
    assert close[:3] == ("method", 1, "Channel.Close") and close[3]["reply_code"] == 406
    assert grown < 16 << 20, f"memory grew by {grown} bytes for a refused 128 MiB message"
    bystander.check()


def test_thousands_of_channels(bystander: Bystander) -> None:
    url = bystander.server.url
    with Wire(url) as first, Wire(url) as second:
        for wire in (first, second):
            wire.open()
            wire.send(*(method(number, S.Channel.Open()) for number in range(1, 2048)))
            for number in range(1, 2048):
                wire.expect(number, S.Channel.OpenOk)
        assert len(bystander.broker.channels()) == 2 * 2047 + 1
        # each works: a publish on the last channel of one, a get on the last of the other
        first.publish(2047, "kept", b"from channel 2047")
        second.send_method(2047, S.Basic.Get(queue="kept", no_ack=False))
        assert [second.observe()[0] for _ in range(3)] == ["method", "header", "body"]
        # one more is over channel_max: that connection is closed, the other one lives
        first.send_method(4000, S.Channel.Open())
        assert first.until_close()[0][3]["reply_code"] == 530
        second.send_method(2047, S.Basic.Get(queue="kept", no_ack=True))
        assert second.observe()[2] == "Basic.GetOk"
        assert second.observe()[0] == "header" and second.observe()[2] == b"from channel 2047"
    bystander.check()
    wait_until(lambda: len(bystander.broker.channels()) == 1, "the channels are closed")


def _damaged(frame: bytes, after: bytes, byte: bytes) -> bytes:
    at = frame.index(after) + len(after)
    return frame[:at] + byte + frame[at + 1:]


START_OK = method(0, S.Connection.StartOk({"product": "abc"}, "PLAIN", b"\0guest\0guest",
                                          "en_US"))
AMQPLAIN_WITH_LENGTH = method(0, S.Connection.StartOk(
    {}, "AMQPLAIN", struct.pack(">I", 36) + amqplain_response("guest", "guest"), "en_US"))


@pytest.mark.parametrize("before,sent", [
    pytest.param("header", _damaged(START_OK, b"product", b"Z"),
                 id="client-properties-unknown-field-type"),
    pytest.param("header", AMQPLAIN_WITH_LENGTH, id="amqplain-with-the-table-length"),
    pytest.param("open", _damaged(method(1, S.Queue.Declare(queue="q", arguments={"x": 1})),
                                  b"\x01x", b"Z"), id="arguments-unknown-field-type"),
    pytest.param("open", _damaged(method(1, S.Exchange.Declare(
        exchange="e", type="headers", arguments={"x": "y"})), b"\x01x", b"\x00"),
                 id="arguments-field-type-0"),
])
def test_a_field_table_that_does_not_parse_is_no_server_error(
        bystander: Bystander, caplog: pytest.LogCaptureFixture, before: str, sent: bytes
) -> None:
    with Wire(bystander.server.url) as wire:
        if before == "header":
            wire.send(b"AMQP\x00\x00\x09\x01")
            wire.expect(0, S.Connection.Start)
        else:
            wire.open()
            wire.channel(1)
        wire.send(sent)
        last = wire.until_close()[-1]
    assert last in (EOF, RESET) or last[:3] == ("method", 0, "Connection.Close")
    bystander.check()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
