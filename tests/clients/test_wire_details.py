"""Wire-level details that clients act on: what ``connection.start`` and ``connection.tune``
announce (py-amqp reads them), heartbeats sent by the server and a silent client dropped,
every AMQP field type pika can send coming back as it went, server-named queues, and
acknowledgement of several deliveries at once."""

from __future__ import annotations

import contextlib
import datetime
import re
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import amqp
import pika
import pika.compat
import pytest

from tests.clients.conftest import WAIT, Unique

CAPABILITIES = {
    "publisher_confirms": True, "exchange_exchange_bindings": True, "basic.nack": True,
    "consumer_cancel_notify": True, "connection.blocked": True, "consumer_priorities": True,
    "authentication_failure_close": True, "per_consumer_qos": True, "direct_reply_to": True,
}


def _py_amqp(url: str, heartbeat: int = 0) -> amqp.Connection:
    parts = urlsplit(url)
    connection = amqp.Connection(host=f"{parts.hostname}:{parts.port}",
                                 userid=parts.username, password=parts.password,
                                 connect_timeout=WAIT, heartbeat=heartbeat)
    connection.connect()
    return connection


def test_start_and_tune_announce_what_rabbitmq_does(server_url: str) -> None:
    connection = _py_amqp(server_url)
    try:
        props = connection.server_properties
        assert props["capabilities"] == CAPABILITIES
        assert props["product"] == "RabbitMQ"
        assert props["version"].startswith("3.10.")
        assert set(props) >= {"cluster_name", "copyright", "information", "platform"}
        assert connection.mechanisms == [b"AMQPLAIN", b"PLAIN"]
        assert connection.locales == ["en_US"]
        assert (connection.version_major, connection.version_minor) == (0, 9)
        assert (connection.server_heartbeat, connection.channel_max,
                connection.frame_max) == (60, 2047, 131072)
    finally:
        connection.close()


def test_heartbeats_both_ways(server_url: str) -> None:
    talking = _py_amqp(server_url, heartbeat=1)
    try:
        before = talking.bytes_recv
        started = time.monotonic()
        while time.monotonic() - started < 1.6:
            with contextlib.suppress(TimeoutError):
                talking.drain_events(timeout=0.1)
            talking.heartbeat_tick()  # ours: sent every half interval
        assert talking.bytes_recv - before >= 2  # the server's, every half second
    finally:
        talking.close()

    silent = _py_amqp(server_url, heartbeat=1)
    time.sleep(4.0)  # two missed heartbeats (2-3 s) and a margin: the server drops us
    # RabbitMQ closes its sockets with SO_LINGER 0: the client sees a reset, not an EOF
    with pytest.raises(ConnectionResetError):
        silent.drain_events(timeout=1)
    silent.collect()


def test_field_types_round_trip(server_url: str, unique: Unique) -> None:
    queue = unique()
    when = datetime.datetime(2026, 12, 6, 12, 30, 15, tzinfo=datetime.timezone.utc)
    headers: dict[str, Any] = {
        "str": "café", "bytes": b"\x00\xff", "true": True, "false": False, "none": None,
        "small": 7, "int32": 2**31 - 1, "negative": -(2**31), "long": pika.compat.long(5),
        "int64": pika.compat.long(2**62), "decimal": Decimal("12.345"), "time": when,
        "table": {"nested": {"deeper": [1, "a", {"k": None}]}}, "array": [1, 2**40, "x", []],
        "empty": {},
    }
    props = pika.BasicProperties(
        content_type="application/octet-stream", content_encoding="gzip", headers=headers,
        delivery_mode=2, priority=9, correlation_id="c", reply_to="r", expiration="600000",
        message_id="m", timestamp=1_765_000_000, type="t", user_id="guest", app_id="a",
        cluster_id="cl")
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.confirm_delivery()
        channel.basic_publish("", queue, b"", props)
        _, got, body = channel.basic_get(queue, auto_ack=True)
        assert body == b""
        for name in ("content_type", "content_encoding", "delivery_mode", "priority",
                     "correlation_id", "reply_to", "expiration", "message_id", "timestamp",
                     "type", "user_id", "app_id", "cluster_id"):
            assert getattr(got, name) == getattr(props, name), name
        assert got.headers == headers
        assert {k: type(v) for k, v in got.headers.items()} == {
            k: type(v) for k, v in headers.items()}
    finally:
        connection.close()


def test_server_named_queue_and_multiple_acks(server_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        channel = connection.channel()
        declared = channel.queue_declare("", exclusive=True).method
        assert re.fullmatch(r"amq\.gen-[A-Za-z0-9_-]{22}", declared.queue), declared.queue
        assert (declared.message_count, declared.consumer_count) == (0, 0)
        queue = declared.queue
        for n in range(6):
            channel.basic_publish("", queue, str(n).encode())
        tags = []
        for _ in range(6):
            method, _, _ = channel.basic_get(queue)
            tags.append(method.delivery_tag)
        assert tags == [1, 2, 3, 4, 5, 6]
        channel.basic_ack(2, multiple=True)  # 1 and 2
        channel.basic_nack(4, multiple=True, requeue=True)  # 3 and 4, back in order
        channel.basic_reject(5, requeue=False)
        channel.basic_recover(requeue=True)  # 6 goes back too
        again = []
        for _ in range(3):
            method, _, body = channel.basic_get(queue, auto_ack=True)
            again.append((body, method.redelivered))
        assert again == [(b"2", True), (b"3", True), (b"5", True)]
        assert channel.basic_get(queue) == (None, None, None)
    finally:
        connection.close()
