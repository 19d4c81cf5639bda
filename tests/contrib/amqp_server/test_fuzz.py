"""Fuzzing the embedded server: mutated valid frame streams, damaged handshakes and random
bytes. Whatever a client sends, the server answers with RabbitMQ's codes or drops the
connection, ends it once the client stops, logs no error of its own, leaks no broker
connection, and a fresh client can still connect and round-trip a message."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from contrib.amqp_server import AmqpServer
from tests.contrib.amqp_server.conftest import round_trip, wait_until
from tests.contrib.amqp_server.strategies import streams
from tests.contrib.amqp_server.wire import EOF, RESET, Wire
from transports.memory import Broker

#: the reply codes a server may close a channel or a connection with
REPLY_CODES = {200, 311, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505,
               506, 530, 540, 541}


class Errors(logging.Handler):
    """Records what the server's loop logs at ERROR (an exception in a protocol callback
    is logged by asyncio, not raised)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[AmqpServer, Broker, Errors]]:
    broker = Broker()
    errors = Errors()
    loggers = [logging.getLogger("asyncio"), logging.getLogger("msgbus")]
    for logger in loggers:
        logger.addHandler(errors)
    try:
        with AmqpServer(broker, port=0) as server:
            yield server, broker, errors
    finally:
        for logger in loggers:
            logger.removeHandler(errors)


def _feed(url: str, open_first: bool, data: bytes) -> list[tuple[object, ...]]:
    """Send ``data`` (after the handshake when ``open_first``), stop sending, and read
    until the server ends the connection."""
    with Wire(url) as wire:
        if open_first:
            wire.open()
        try:
            wire.send(data)
            wire.sock.shutdown(socket.SHUT_WR)
        except OSError:  # EPIPE, ECONNRESET, ENOTCONN: the server dropped it already
            pass
        return wire.until_end()


@settings(max_examples=100, deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams())
def test_whatever_a_client_sends_the_server_stays_up(
        fuzzed: tuple[AmqpServer, Broker, Errors], stream: tuple[bool, bytes]) -> None:
    server, broker, errors = fuzzed
    open_first, data = stream
    errors.records.clear()
    observed = _feed(server.url, open_first, data)
    assert observed[-1] in (EOF, RESET)
    for item in observed:
        if item[:1] == ("method",) and item[2] in ("Connection.Close", "Channel.Close"):
            fields = item[3]
            assert isinstance(fields, dict) and fields["reply_code"] in REPLY_CODES, item
    wait_until(lambda: not broker.connections(), "the fuzzed connection is closed")
    assert not errors.records, [record.getMessage() for record in errors.records]
    round_trip(server.url, "fuzz-round-trip")
