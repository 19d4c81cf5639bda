"""Frames on an open connection, differential: malformed frames (501), frames out of place
(505), channels misused (504), what RabbitMQ does not implement (540), server methods sent
by a client (503), the channel_max limit, channel.close handshakes, and methods sent with
``nowait``. Each scenario is sent as raw frames to RabbitMQ and to the embedded server; the
frames that come back must be the same."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contrib.amqp_server.conftest import Differential, Observed
from tests.contrib.amqp_server.wire import S, Wire, body, header, method

pytestmark = pytest.mark.rabbitmq


def opened(url: str, *, frame_max: int = 131072, channel_max: int = 2047) -> Wire:
    """A connection with channel 1 open."""
    wire = Wire(url)
    wire.open(frame_max=frame_max, channel_max=channel_max)
    wire.channel(1)
    return wire


def closes(*pieces: bytes) -> Any:
    """A scenario: send ``pieces`` on a connection with channel 1 open, observe until the
    server closes the connection."""
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(*pieces)
            return wire.until_close()
    return scenario


PUBLISH = method(1, S.Basic.Publish(exchange="", routing_key="nowhere"))
HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"

# -- 501 FRAME_ERROR and malformed frames ----------------------------------------------


@pytest.mark.parametrize("sent", [
    pytest.param(b"\x09\x00\x00\x00\x00\x00\x00\xce", id="unknown-frame-type"),
    pytest.param(b"\x00\x00\x00\x00\x00\x00\x00\xce", id="frame-type-0"),
    pytest.param(b"\x01\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x0a\x00",
                 id="invalid-frame-end-marker"),
    pytest.param(HEARTBEAT[:-1] + b"\x00", id="heartbeat-invalid-frame-end-marker"),
    pytest.param(b"\x01\x00\x00\x00\x04\x00\x00" + b"x" * 20, id="frame-too-large"),
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x05\x00\x3c\x00\x28\x00\xce",
                 id="method-arguments-truncated"),
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x04abcd\x00", id="printable-octets"),
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x02\x00\x3c\xce", id="method-id-truncated"),
    pytest.param(b"\x02\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x00\xce",
                 id="content-header-truncated"),
])
def test_a_malformed_frame(differential: Differential, sent: bytes) -> None:
    differential.same(closes(sent))


def test_a_frame_over_the_negotiated_frame_max(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url, frame_max=4096) as wire:
            wire.send(PUBLISH, header(1, 5000), body(1, b"x" * 5000))
            return wire.until_close()

    assert differential.same(scenario)[0][3]["reply_code"] == 501


@pytest.mark.parametrize("sent", [
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x04\x00\xff\x00\x0a\xce", id="unknown-class"),
    pytest.param(b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x63\xce", id="unknown-method"),
    pytest.param(b"\x01\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x63\xce",
                 id="unknown-connection-method"),
])
def test_an_unknown_method_drops_the_client(differential: Differential, sent: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(sent)
            return wire.until_end()

    differential.same(scenario)


def _damaged(frame: bytes, after: bytes, offset: int, byte: bytes) -> bytes:
    """``frame`` with the byte ``offset`` bytes after ``after`` replaced by ``byte``."""
    at = frame.index(after) + len(after) + offset
    return frame[:at] + byte + frame[at + 1:]


ARGUMENTS = method(1, S.Queue.Declare(queue="q", exclusive=True, arguments={"x-a": "b"}))
HEADERS = header(1, 1, S.BasicProperties(headers={"x-a": "b"}))


@pytest.mark.parametrize("sent", [
    pytest.param(_damaged(ARGUMENTS, b"x-a", 0, b"Z"), id="unknown-field-type"),
    pytest.param(_damaged(ARGUMENTS, b"x-a", 1, b"\xff"), id="field-longer-than-table"),
])
def test_a_malformed_field_table_in_method_arguments(differential: Differential,
                                                     sent: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(sent)
            return wire.until_close()

    differential.same(scenario)


def test_a_malformed_field_table_in_message_headers(differential: Differential) -> None:
    sent = PUBLISH + _damaged(HEADERS, b"x-a", 0, b"Z") + body(1, b"x")
    differential.same(closes(sent))


# -- 505 UNEXPECTED_FRAME ---------------------------------------------------------------


@pytest.mark.parametrize("sent", [
    pytest.param(header(1, 3), id="header-without-publish"),
    pytest.param(body(1, b"abc"), id="body-without-publish"),
    pytest.param(body(2, b"abc"), id="body-on-an-unopened-channel"),
    pytest.param(header(0, 3), id="header-on-channel-0"),
    pytest.param(b"\x08\x00\x01\x00\x00\x00\x00\xce", id="heartbeat-on-channel-1"),
    pytest.param(b"\x08\x00\x00\x00\x00\x00\x01x\xce", id="heartbeat-with-payload"),
    pytest.param(PUBLISH + method(1, S.Basic.Qos()), id="method-instead-of-header"),
    pytest.param(PUBLISH + body(1, b"abc"), id="body-instead-of-header"),
    pytest.param(PUBLISH + header(1, 3) + method(1, S.Basic.Qos()),
                 id="method-instead-of-body"),
    pytest.param(PUBLISH + header(1, 3) + header(1, 3), id="header-instead-of-body"),
    pytest.param(PUBLISH + header(1, 0) + body(1, b""), id="body-after-an-empty-content"),
    pytest.param(PUBLISH + header(2, 3), id="header-on-another-channel"),
    pytest.param(PUBLISH + b"\x02\x00\x01\x00\x00\x00\x0e\x00\x0a\x00\x00" + b"\x00" * 10
                 + b"\xce", id="header-of-another-class"),
    pytest.param(PUBLISH + header(1, 2 ** 63) + method(1, S.Basic.Qos()),
                 id="method-after-a-header-of-2-63-bytes"),
])
def test_a_frame_out_of_place(differential: Differential, sent: bytes) -> None:
    differential.same(closes(sent))


def test_a_body_longer_than_announced(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(PUBLISH, header(1, 3), body(1, b"ab"), body(1, b"cd"))
            return wire.until_sync(1)

    differential.same(scenario)


# -- 504 CHANNEL_ERROR ------------------------------------------------------------------


@pytest.mark.parametrize("sent", [
    pytest.param(method(2, S.Queue.Declare(queue="x")), id="method-on-an-unopened-channel"),
    pytest.param(method(2, S.Basic.Publish(routing_key="x")) + header(2, 1) + body(2, b"x"),
                 id="publish-on-an-unopened-channel"),
    pytest.param(method(1, S.Channel.Open()), id="second-channel-open"),
    pytest.param(method(0, S.Channel.Open()), id="channel-open-on-channel-0"),
    pytest.param(method(0, S.Queue.Declare(queue="x")), id="queue-declare-on-channel-0"),
])
def test_a_channel_misused(differential: Differential, sent: bytes) -> None:
    differential.same(closes(sent))


# -- 540 NOT_IMPLEMENTED, 503 COMMAND_INVALID -------------------------------------------


@pytest.mark.parametrize("sent", [
    pytest.param(method(1, S.Channel.Flow(active=False)), id="channel-flow-active-false"),
    pytest.param(method(1, S.Basic.Qos(prefetch_size=10)), id="qos-prefetch-size"),
    pytest.param(method(1, S.Basic.Publish(routing_key="nowhere", immediate=True))
                 + header(1, 1) + body(1, b"x"), id="publish-immediate"),
])
def test_what_rabbitmq_does_not_implement(differential: Differential, sent: bytes) -> None:
    assert differential.same(closes(sent))[0][3]["reply_code"] == 540


@pytest.mark.parametrize("sent", [
    pytest.param(method(1, S.Channel.OpenOk()), id="channel-open-ok"),
    pytest.param(method(1, S.Basic.GetEmpty()), id="basic-get-empty"),
    pytest.param(method(1, S.Basic.ConsumeOk(consumer_tag="x")), id="basic-consume-ok"),
    pytest.param(method(1, S.Queue.DeclareOk(queue="x", message_count=0, consumer_count=0)),
                 id="queue-declare-ok"),
    pytest.param(method(1, S.Basic.Deliver(consumer_tag="x", delivery_tag=1, exchange="",
                                           routing_key="x"))
                 + header(1, 3) + body(1, b"abc"), id="basic-deliver"),
    pytest.param(method(1, S.Basic.Return(312, "NO_ROUTE", "", "x")) + header(1, 3)
                 + body(1, b"abc"), id="basic-return"),
    pytest.param(method(1, S.Confirm.SelectOk()), id="confirm-select-ok"),
    pytest.param(method(0, S.Connection.Start(server_properties={})), id="connection-start"),
    pytest.param(method(0, S.Connection.Tune()), id="connection-tune"),
])
def test_a_server_method_sent_by_the_client(differential: Differential, sent: bytes) -> None:
    differential.same(closes(sent))


@pytest.mark.parametrize("sent", [
    pytest.param(method(1, S.Access.Request()), id="access-request"),
    pytest.param(method(1, S.Channel.Flow(active=True)), id="channel-flow-active-true"),
    pytest.param(method(1, S.Basic.Recover(requeue=True)), id="basic-recover"),
    pytest.param(method(1, S.Basic.RecoverAsync(requeue=True)), id="basic-recover-async"),
    pytest.param(method(0, S.Connection.Blocked("x")), id="connection-blocked"),
    pytest.param(method(0, S.Connection.Unblocked()), id="connection-unblocked"),
    pytest.param(method(0, S.Connection.UpdateSecret(b"guest", "x")), id="update-secret"),
])
def test_rarely_used_methods(differential: Differential, sent: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(sent)
            return wire.until_sync(1)

    differential.same(scenario)


# -- channel_max and channel.close ------------------------------------------------------


def test_channel_max_counts_open_channels(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open(channel_max=3)
            observed: Observed = []
            for number in (1, 2, 100):  # a number above channel_max is fine
                wire.send_method(number, S.Channel.Open())
                observed.append(wire.observe())
            wire.send_method(2, S.Channel.Close(200, "", 0, 0))
            observed.append(wire.observe())
            wire.send_method(7, S.Channel.Open())
            observed.append(wire.observe())
            wire.send_method(8, S.Channel.Open())  # the fourth open one
            return observed + wire.until_close()

    observed = differential.same(scenario)
    assert observed[-1][3]["reply_code"] == 530


def test_channel_close_handshakes(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            observed: Observed = []
            # the server closes the channel: it ignores everything but close-ok (and close)
            wire.send(method(1, S.Queue.Declare(queue=f"{tag}.absent", passive=True)),
                      method(1, S.Basic.Qos()), PUBLISH, header(1, 1), body(1, b"x"),
                      method(1, S.Channel.Close(200, "", 0, 0)))
            observed += [wire.observe(), wire.observe()]
            if observed[-1][2] != "Channel.CloseOk":
                return observed
            wire.send_method(1, S.Channel.CloseOk())
            # the number can be opened again, and closed by the client
            wire.send_method(1, S.Channel.Open())
            observed.append(wire.observe())
            wire.send_method(1, S.Channel.Close(200, "bye", 0, 0))
            observed.append(wire.observe())
            # a close-ok from the client that nobody asked for
            wire.send_method(3, S.Channel.Open())
            observed.append(wire.observe())
            wire.send_method(3, S.Channel.CloseOk())
            observed += wire.until_sync(3)
            return observed

    differential.same(scenario)


def test_frames_sent_right_after_channel_close_are_ignored(differential: Differential
                                                           ) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.channel(2)
            wire.send(method(1, S.Channel.Close(200, "", 0, 0)),
                      method(1, S.Queue.Declare(queue=f"{tag}.q", exclusive=True)))
            return [wire.observe(), *wire.until_sync(2)]

    differential.same(scenario)


def test_channel_close_while_a_content_is_incomplete(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send(PUBLISH, header(1, 10), body(1, b"abc"),
                      method(1, S.Channel.Close(200, "", 0, 0)))
            return wire.until_close()

    differential.same(scenario)


# -- nowait -----------------------------------------------------------------------------


def test_nowait_methods_get_no_reply(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            x, y, q = f"{tag}.x", f"{tag}.y", f"{tag}.q"
            wire.send(
                method(1, S.Exchange.Declare(exchange=x, type="direct", nowait=True)),
                method(1, S.Exchange.Declare(exchange=y, type="fanout", nowait=True)),
                method(1, S.Exchange.Bind(destination=y, source=x, routing_key="k",
                                          nowait=True)),
                method(1, S.Queue.Declare(queue=q, exclusive=True, nowait=True)),
                method(1, S.Queue.Bind(queue=q, exchange=y, nowait=True)),
                method(1, S.Confirm.Select(nowait=True)),
                method(1, S.Basic.Consume(queue=q, consumer_tag="c1", nowait=True)),
            )
            observed = wire.until_sync(1)
            # all of them took effect: a message routed x -> y -> q reaches consumer c1
            wire.send(method(1, S.Basic.Publish(exchange=x, routing_key="k")), header(1, 2),
                      body(1, b"hi"))
            # the confirm and the delivery (deliver, header, body): RabbitMQ sends either
            # first, from one run to the next; the delivery's frames stay together
            arrived = [wire.observe() for _ in range(4)]
            observed += sorted(arrived, key=lambda frame: frame[:3] != ("method", 1, "Basic.Ack"))
            wire.send(
                method(1, S.Basic.Cancel(consumer_tag="c1", nowait=True)),
                method(1, S.Queue.Purge(queue=q, nowait=True)),
                method(1, S.Exchange.Unbind(destination=y, source=x, routing_key="k",
                                            nowait=True)),
                method(1, S.Queue.Delete(queue=q, nowait=True)),
                method(1, S.Exchange.Delete(exchange=y, nowait=True)),
                method(1, S.Exchange.Delete(exchange=x, nowait=True)),
            )
            observed += wire.until_sync(1)
            wire.send_method(1, S.Exchange.Declare(exchange=x, passive=True))
            return [*observed, wire.observe()]

    observed = differential.same(scenario)
    assert observed[-1][3]["reply_code"] == 404


def test_an_error_on_a_nowait_method_closes_the_channel(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with opened(url) as wire:
            wire.send_method(1, S.Basic.Consume(queue=f"{tag}.absent", nowait=True))
            return [wire.observe()]

    assert differential.same(scenario)[0][3]["reply_code"] == 404
