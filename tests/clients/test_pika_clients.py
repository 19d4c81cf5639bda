"""pika's BlockingConnection and SelectConnection over the wire: publish, confirms (acks and
a nack), consume and ack, basic_get, channel errors with their codes and reply texts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import pytest
from pika.adapters.select_connection import SelectConnection

from tests.clients.conftest import WAIT, Unique

LARGE = bytes(range(256)) * 1200  # 300 KB: several body frames at the default frame_max


def _blocking(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.blocked_connection_timeout = WAIT
    return pika.BlockingConnection(params)


def test_blocking_publish_consume_ack(server_url: str, unique: Unique) -> None:
    queue = unique()
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.confirm_delivery()
        props = pika.BasicProperties(
            content_type="application/json", correlation_id="c-1", delivery_mode=2,
            headers={"n": 1, "nested": {"list": [1, "two", True]}, "name": "café"})
        bodies = [b'{"n": 1}', b"", LARGE]
        for body in bodies:
            channel.basic_publish("", queue, body, props, mandatory=True)
        with pytest.raises(pika.exceptions.UnroutableError):
            channel.basic_publish("", unique("nowhere"), b"lost", mandatory=True)

        channel.basic_qos(prefetch_count=2)
        seen: list[tuple[bytes, Any, bool]] = []
        for method, properties, body in channel.consume(queue, inactivity_timeout=WAIT):
            assert method is not None, "no delivery within the wait"
            seen.append((body, properties, method.redelivered))
            channel.basic_ack(method.delivery_tag)
            if len(seen) == len(bodies):
                break
        assert channel.cancel() == 0
        assert [body for body, _, _ in seen] == bodies
        first = seen[0][1]
        assert first.content_type == "application/json"
        assert first.correlation_id == "c-1"
        assert first.delivery_mode == 2
        assert first.headers == {"n": 1, "nested": {"list": [1, "two", True]}, "name": "café"}
        assert not any(redelivered for _, _, redelivered in seen)
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        connection.close()


def test_blocking_basic_get_and_requeue(server_url: str, unique: Unique) -> None:
    queue = unique()
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        for body in (b"one", b"two"):
            channel.basic_publish("", queue, body)
        method, _, body = channel.basic_get(queue)
        assert (body, method.message_count, method.redelivered) == (b"one", 1, False)
        channel.basic_nack(method.delivery_tag, requeue=True)
        method, _, body = channel.basic_get(queue)
        assert (body, method.message_count, method.redelivered) == (b"one", 1, True)
        channel.basic_ack(method.delivery_tag)
        method, _, body = channel.basic_get(queue, auto_ack=True)
        assert (body, method.message_count) == (b"two", 0)
        assert channel.basic_get(queue) == (None, None, None)
    finally:
        connection.close()


def test_blocking_confirm_nack_from_a_full_queue(server_url: str, unique: Unique) -> None:
    queue = unique()
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue, arguments={"x-max-length": 1,
                                                "x-overflow": "reject-publish"})
        channel.confirm_delivery()
        channel.basic_publish("", queue, b"fits")
        with pytest.raises(pika.exceptions.NackError):
            channel.basic_publish("", queue, b"refused")
        assert channel.queue_declare(queue, passive=True).method.message_count == 1
    finally:
        connection.close()


def test_blocking_channel_errors(server_url: str, unique: Unique) -> None:
    queue, missing = unique(), unique("missing")
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as error:
            channel.queue_declare(missing, passive=True)
        assert error.value.reply_code == 404
        assert error.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
        assert channel.is_closed and connection.is_open

        channel = connection.channel()
        channel.queue_declare(queue)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as error:
            channel.queue_declare(queue, durable=True)
        assert error.value.reply_code == 406
        assert error.value.reply_text == (
            f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{queue}' in "
            f"vhost '/': received 'true' but current is 'false'")

        channel = connection.channel()
        channel.basic_ack(99)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as error:
            channel.queue_declare(queue, passive=True)  # the round trip that sees the close
        assert error.value.reply_code == 406
        assert error.value.reply_text == "PRECONDITION_FAILED - unknown delivery tag 99"
        assert connection.is_open
    finally:
        connection.close()


def test_blocking_connection_error_closes_the_connection(server_url: str) -> None:
    connection = _blocking(server_url)
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as error:
        channel.exchange_declare("never-made", exchange_type="no-such-type")
    assert error.value.reply_code == 503
    assert error.value.reply_text == "COMMAND_INVALID - unknown exchange type 'no-such-type'"
    assert connection.is_closed


class _SelectScenario:
    """Drives a SelectConnection through open, confirm, declare, publish, consume + ack,
    cancel and a channel error, recording what happened; the I/O loop stops at the end
    or after WAIT seconds."""

    def __init__(self, url: str, queue: str, missing: str, count: int) -> None:
        self.queue, self.missing, self.count = queue, missing, count
        self.confirms: list[tuple[str, int, bool]] = []
        self.received: list[bytes] = []
        self.redelivered: list[bool] = []
        self.cancelled = False
        self.channel_closed: tuple[int, str] | None = None
        self.closed = False
        self.timed_out = False
        self.connection = SelectConnection(
            pika.URLParameters(url), on_open_callback=self._opened,
            on_open_error_callback=self._open_failed, on_close_callback=self._conn_closed)
        self.channel: Any = None

    def run(self) -> None:
        ioloop = self.connection.ioloop
        timer = ioloop.call_later(WAIT, self._timeout)
        try:
            ioloop.start()
            ioloop.remove_timeout(timer)
        finally:
            ioloop.close()  # its wake-up socket pair

    def _timeout(self) -> None:
        self.timed_out = True
        if self.connection.is_open:
            self.connection.close()
        else:
            self.connection.ioloop.stop()

    def _open_failed(self, _connection: Any, error: Exception) -> None:
        self.connection.ioloop.stop()
        raise AssertionError(f"could not open the connection: {error!r}")

    def _conn_closed(self, _connection: Any, _reason: Exception) -> None:
        self.closed = True
        self.connection.ioloop.stop()

    def _opened(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._channel_opened)

    def _channel_opened(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._channel_closed)
        channel.confirm_delivery(self._confirmed, callback=self._confirm_selected)

    def _confirm_selected(self, _frame: Any) -> None:
        self.channel.queue_declare(self.queue, callback=self._declared)

    def _declared(self, _frame: Any) -> None:
        for n in range(self.count):
            self.channel.basic_publish("", self.queue, f"m{n}".encode(),
                                       pika.BasicProperties(delivery_mode=2))

    def _confirmed(self, frame: Any) -> None:
        method = frame.method
        self.confirms.append((method.NAME, method.delivery_tag, method.multiple))
        confirmed = max(tag for _, tag, _ in self.confirms)
        if confirmed == self.count:
            self.channel.basic_qos(prefetch_count=3, callback=self._qos_set)

    def _qos_set(self, _frame: Any) -> None:
        self.tag = self.channel.basic_consume(self.queue, self._delivered)

    def _delivered(self, channel: Any, method: Any, _props: Any, body: bytes) -> None:
        self.received.append(body)
        self.redelivered.append(method.redelivered)
        channel.basic_ack(method.delivery_tag)
        if len(self.received) == self.count:
            channel.basic_cancel(self.tag, callback=self._cancelled)

    def _cancelled(self, _frame: Any) -> None:
        self.cancelled = True
        self.channel.queue_declare(self.missing, passive=True)

    def _channel_closed(self, _channel: Any, reason: Exception) -> None:
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            self.channel_closed = (reason.reply_code, reason.reply_text)
        self.connection.close()


def test_select_connection_end_to_end(server_url: str, unique: Unique) -> None:
    scenario = _SelectScenario(server_url, unique(), unique("missing"), count=20)
    scenario.run()
    assert not scenario.timed_out, f"timed out: {vars(scenario)}"
    assert all(name == "Basic.Ack" for name, _, _ in scenario.confirms)
    acked: set[int] = set()
    previous = 0
    for _, tag, multiple in scenario.confirms:
        acked.update(range(previous + 1, tag + 1) if multiple else {tag})
        previous = max(previous, tag)
    assert acked == set(range(1, 21))
    assert scenario.received == [f"m{n}".encode() for n in range(20)]
    assert not any(scenario.redelivered)
    assert scenario.cancelled
    assert scenario.channel_closed == (
        404, f"NOT_FOUND - no queue '{scenario.missing}' in vhost '/'")
    assert scenario.closed


def test_expired_message_dead_lettered_to_a_consumer(
        server_url: str, unique: Unique, elapse: Callable[[float], None]) -> None:
    """A message TTL runs out while nobody touches the queue: the server dead-letters the
    message by itself and pushes it to the consumer waiting on the dead-letter queue."""
    source, dead = unique("source"), unique("dead")
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(dead)
        channel.queue_declare(source, arguments={
            "x-message-ttl": 200, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead})
        got: list[tuple[bytes, str]] = []
        channel.basic_consume(dead, lambda _ch, _m, props, body: got.append(
            (body, props.headers["x-death"][0]["reason"])), auto_ack=True)
        channel.confirm_delivery()
        channel.basic_publish("", source, b"short-lived")
        elapse(0.3)
        deadline = time.monotonic() + WAIT
        while not got and time.monotonic() < deadline:
            connection.process_data_events(0.05)
        assert got == [(b"short-lived", "expired")]
    finally:
        connection.close()


def test_prefetch_window_over_the_wire(server_url: str, unique: Unique) -> None:
    """A consumer at prefetch 3 holds at most 3 unacknowledged deliveries; each ack lets
    as many more come (a multiple ack, several)."""
    queue = unique()
    connection = _blocking(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.confirm_delivery()
        for n in range(10):
            channel.basic_publish("", queue, str(n).encode())
        tags: list[int] = []
        channel.basic_qos(prefetch_count=3)
        channel.basic_consume(queue, lambda _ch, method, _p, _b: tags.append(
            method.delivery_tag))

        def settle(count: int) -> list[int]:
            deadline = time.monotonic() + WAIT
            while len(tags) < count and time.monotonic() < deadline:
                connection.process_data_events(0.05)
            connection.process_data_events(0.2)  # and nothing beyond the window comes
            return list(tags)

        assert settle(3) == [1, 2, 3]
        channel.basic_ack(1)
        assert settle(4) == [1, 2, 3, 4]
        channel.basic_ack(3, multiple=True)
        assert settle(6) == [1, 2, 3, 4, 5, 6]
        assert connection.channel().queue_declare(queue, passive=True).method.message_count == 4
    finally:
        connection.close()
