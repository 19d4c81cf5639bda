"""The connection's life on the wire, differential: the protocol header, connection.start,
tune, SASL PLAIN and AMQPLAIN, refusals, heartbeats and closing. Each scenario is sent as
raw frames to RabbitMQ and to the embedded server; the frames (and how the socket ends)
must be the same."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contrib.amqp_server.conftest import Differential, Observed
from tests.contrib.amqp_server.wire import (
    EOF,
    PROTOCOL_HEADER,
    RESET,
    WAIT,
    S,
    Wire,
    amqplain_response,
    method,
)

pytestmark = pytest.mark.rabbitmq

HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"
FAILURE_CLOSE = {"capabilities": {"authentication_failure_close": True}}


# -- the protocol header ----------------------------------------------------------------


def test_connection_start_announces_what_rabbitmq_does(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.send(PROTOCOL_HEADER)
            return [wire.observe()]

    (start,) = differential.same(scenario)
    props = start[3]["server_properties"]
    assert props["product"] == "RabbitMQ" and start[3]["mechanisms"] == "AMQPLAIN PLAIN"


def test_the_protocol_header_may_come_in_pieces(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            for byte in PROTOCOL_HEADER:
                wire.send(bytes([byte]))
            return [wire.observe()[2]]

    assert differential.same(scenario) == ["Connection.Start"]


@pytest.mark.parametrize("sent", [
    pytest.param(b"AMQP\x00\x00\x09\x02", id="revision-2"),
    pytest.param(b"AMQP\x00\x01\x00\x00", id="amqp-1-0"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
    pytest.param(b"\x00" * 8, id="zeros"),
])
def test_a_wrong_protocol_header_gets_rabbitmqs_own(differential: Differential,
                                                   sent: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.send(sent)
            return wire.until_end()

    assert differential.same(scenario) == [("protocol-header", PROTOCOL_HEADER), RESET]


def test_the_amqp_0_9_header_is_taken_as_0_9_1(differential: Differential) -> None:
    """RabbitMQ answers the 0-9 header (AMQP 1 1 0 9) with connection.start, as for 0-9-1."""
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.send(b"AMQP\x01\x01\x00\x09")
            return [wire.observe()]

    assert differential.same(scenario)[0][2] == "Connection.Start"


# -- authentication and tune ------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "AMQPLAIN"])
def test_login_then_tune(differential: Differential, mechanism: str) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start(mechanism=mechanism)
            return [wire.observe()]

    (tune,) = differential.same(scenario)
    assert tune[2] == "Connection.Tune"


@pytest.mark.parametrize("mechanism", ["PLAIN", "AMQPLAIN"])
@pytest.mark.parametrize("capability", [True, False], ids=["failure-close", "no-capability"])
def test_a_refused_login(differential: Differential, mechanism: str, capability: bool
                         ) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            response = (b"\0guest\0wrong" if mechanism == "PLAIN"
                        else amqplain_response("guest", "wrong"))
            wire.start(mechanism=mechanism, response=response,
                       client_properties=FAILURE_CLOSE if capability else {})
            return wire.until_end()

    observed = differential.same(scenario)
    assert observed[-1] == RESET
    if capability:
        assert observed[0][3]["reply_code"] == 403


def test_an_unknown_user(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start(response=f"\0{tag}\0guest".encode(), client_properties=FAILURE_CLOSE)
            return wire.until_end()

    assert differential.same(scenario)[0][3]["reply_code"] == 403


@pytest.mark.parametrize("mechanism,response", [
    pytest.param("FOO", b"\0guest\0guest", id="unknown-mechanism"),
    pytest.param("PLAIN", b"guest", id="plain-without-nuls"),
    pytest.param("AMQPLAIN", b"\x05LOGINS", id="amqplain-truncated"),
    pytest.param("AMQPLAIN", b"\x00\x00\x00\x24" + amqplain_response("guest", "guest"),
                 id="amqplain-with-the-table-length"),
])
def test_a_login_that_does_not_parse(differential: Differential, mechanism: str,
                                     response: bytes) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start(mechanism=mechanism, response=response, client_properties=FAILURE_CLOSE)
            return wire.until_end()

    differential.same(scenario)


def test_client_properties_that_do_not_parse(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.send(PROTOCOL_HEADER)
            wire.expect(0, S.Connection.Start)
            start_ok = method(0, S.Connection.StartOk({"product": "abc"}, "PLAIN",
                                                      b"\0guest\0guest", "en_US"))
            at = start_ok.index(b"product") + len("product")
            wire.send(start_ok[:at] + b"Z" + start_ok[at + 1:])  # an unknown field type
            return wire.until_end()

    assert differential.same(scenario) == [RESET]


def test_an_unknown_vhost(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start()
            wire.expect(0, S.Connection.Tune)
            wire.send(method(0, S.Connection.TuneOk(2047, 131072, 0)),
                      method(0, S.Connection.Open(tag)))
            return wire.until_close()

    observed = differential.same(scenario)
    assert observed[0][3]["reply_code"] == 530


@pytest.mark.parametrize("channel_max,frame_max", [
    pytest.param(2047, 4095, id="frame-max-below-4096"),
    pytest.param(2048, 131072, id="channel-max-above-2047"),
    pytest.param(2047, 131073, id="frame-max-above-131072"),
    pytest.param(2047, 0, id="frame-max-0"),
    pytest.param(0, 131072, id="channel-max-0"),
])
def test_tune_ok_out_of_bounds_drops_the_client(differential: Differential,
                                                channel_max: int, frame_max: int) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start()
            wire.expect(0, S.Connection.Tune)
            wire.send_method(0, S.Connection.TuneOk(channel_max, frame_max, 0))
            return wire.until_end()

    assert differential.same(scenario) == [RESET]


def test_tune_ok_with_the_smallest_limits(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start()
            wire.expect(0, S.Connection.Tune)
            wire.send(method(0, S.Connection.TuneOk(1, 4096, 0)),
                      method(0, S.Connection.Open("/")))
            observed = [wire.observe()]
            wire.send_method(1, S.Channel.Open())
            return [*observed, wire.observe()]

    assert [item[2] for item in differential.same(scenario)] == [
        "Connection.OpenOk", "Channel.OpenOk"]


@pytest.mark.parametrize("sent", [
    pytest.param(S.Connection.Open("/"), id="open-before-tune-ok"),
    pytest.param(S.Channel.Open(), id="channel-open-before-tune-ok"),
])
def test_the_handshake_out_of_order(differential: Differential, sent: Any) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.start()
            wire.expect(0, S.Connection.Tune)
            wire.send_method(0 if isinstance(sent, S.Connection.Open) else 1, sent)
            return wire.until_end()

    differential.same(scenario)


def test_connection_open_twice(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.send_method(0, S.Connection.Open("/"))
            return wire.until_close()

    assert differential.same(scenario)[0][3]["reply_code"] == 504


# -- closing ----------------------------------------------------------------------------


def test_the_client_closes(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.channel(1)
            wire.send_method(0, S.Connection.Close(200, "bye", 0, 0))
            return [wire.observe()]

    assert differential.same(scenario) == [("method", 0, "Connection.CloseOk", {})]


def test_after_answering_the_clients_close_the_socket_is_the_clients_to_close(
        differential: Differential) -> None:
    """RabbitMQ answers a client's connection.close and leaves the socket open until the
    client closes it: what comes meanwhile is ignored, a second close (a client closing from
    two threads sends one) is answered too, and a close-ok from the client ends it."""
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.channel(1)
            wire.send_method(0, S.Connection.Close(200, "bye", 0, 0))
            seen = [wire.observe()]
            wire.send_method(1, S.Basic.Qos(prefetch_count=5))  # no qos-ok: ignored
            wire.send_method(0, S.Connection.Close(200, "bye again", 0, 0))
            seen.append(wire.observe())
            wire.send_method(0, S.Connection.CloseOk())
            return seen + wire.until_end()

    close_ok = ("method", 0, "Connection.CloseOk", {})
    assert differential.same(scenario) == [close_ok, close_ok, RESET]


def test_how_the_socket_ends_after_the_clients_close_ok(differential: Differential) -> None:
    """RabbitMQ's sockets linger 0: once the client answered its connection.close with
    close-ok, RabbitMQ resets the socket."""
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.send_method(0, S.Connection.Open("/"))  # a connection error
            observed = wire.until_close()
            return observed + wire.until_end()

    assert differential.same(scenario)[-1] == RESET


# -- heartbeats -------------------------------------------------------------------------


def test_heartbeats_from_the_server_then_a_silent_client_is_dropped(
        differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open(heartbeat=1)
            seen = wire.until_end(timeout=WAIT)  # the client sends nothing
            heartbeats = [item for item in seen if item == ("heartbeat",)]
            others = [item for item in seen if item != ("heartbeat",)]
            return [("server sent heartbeats", bool(heartbeats)), *others]

    assert differential.same(scenario) == [("server sent heartbeats", True), RESET]


def test_a_client_that_sends_heartbeats_stays(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open(heartbeat=1)
            for _ in range(8):  # 3.2 s: longer than two intervals
                wire.send(HEARTBEAT)
                try:
                    frame = wire.observe(timeout=0.4)
                except TimeoutError:
                    continue
                if frame in (EOF, RESET):
                    return [frame]
            wire.send_method(1, S.Channel.Open())
            while True:
                frame = wire.observe()
                if frame != ("heartbeat",):
                    return [frame]

    assert differential.same(scenario)[0][2] == "Channel.OpenOk"
