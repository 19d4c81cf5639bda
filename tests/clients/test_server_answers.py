"""What the server answers real clients in the less travelled places: refused logins (pika
with PLAIN, py-amqp with AMQPLAIN), an unknown vhost, ``basic.return``, a broker-sent
``basic.cancel``, transactions, an exclusive queue's lock, bodies split at a small
negotiated ``frame_max``, the typed fields of an ``x-death`` header, and what happens to
the deliveries and exclusive queue of a client that vanishes without closing."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import amqp
import amqp.exceptions
import pika
import pika.compat
import pika.exceptions
import pytest

from tests.clients.conftest import WAIT, Unique

BIG = bytes(range(256)) * 400  # 100 KB: 25 body frames at frame_max 4096


def _with(url: str, *, password: str | None = None, vhost: str | None = None,
          query: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        credentials, _, host = netloc.rpartition("@")
        netloc = f"{credentials.partition(':')[0]}:{password}@{host}"
    return urlunsplit((parts.scheme, netloc, f"/{vhost}" if vhost is not None else parts.path,
                       query if query is not None else parts.query, ""))


def _py_amqp(url: str, **overrides: Any) -> amqp.Connection:
    parts = urlsplit(url)
    settings = {"host": f"{parts.hostname}:{parts.port}", "userid": parts.username,
                "password": parts.password, "virtual_host": "/", "connect_timeout": WAIT}
    return amqp.Connection(**{**settings, **overrides})


def _get(connection: Any, channel: Any, queue: str) -> tuple[Any, Any, bytes]:
    """basic.get until a message comes (RabbitMQ may take a moment to enqueue a publish
    that was committed or dead-lettered)."""
    for _ in range(int(WAIT / 0.02)):
        method, props, body = channel.basic_get(queue)
        if method is not None:
            return method, props, body
        connection.sleep(0.02)
    raise AssertionError(f"no message in {queue} within {WAIT} s")


def test_login_refused(server_url: str) -> None:
    with pytest.raises(pika.exceptions.ProbableAuthenticationError) as refused:
        pika.BlockingConnection(pika.URLParameters(_with(server_url, password="wrong")))
    assert str(refused.value.args[0]) == (
        "ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using "
        "authentication mechanism PLAIN. For details see the broker logfile.'")

    connection = _py_amqp(server_url, password="wrong")
    try:
        with pytest.raises(amqp.exceptions.AccessRefused) as refused_amqplain:
            connection.connect()
    finally:
        connection.collect()  # its socket, whatever happened
    assert refused_amqplain.value.reply_code == 403
    assert refused_amqplain.value.reply_text == (
        "ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN. "
        "For details see the broker logfile.")


def test_unknown_vhost(server_url: str) -> None:
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError) as denied:
        pika.BlockingConnection(pika.URLParameters(_with(server_url, vhost="no-such-vhost")))
    assert str(denied.value.args[0]) == (
        "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost no-such-vhost not found'")

    connection = _py_amqp(server_url, virtual_host="no-such-vhost")
    try:
        with pytest.raises(amqp.exceptions.NotAllowed) as not_allowed:
            connection.connect()
    finally:
        connection.collect()
    assert (not_allowed.value.reply_code, not_allowed.value.reply_text) == (
        530, "NOT_ALLOWED - vhost no-such-vhost not found")


def test_return_cancel_and_transactions(server_url: str, unique: Unique) -> None:
    queue, doomed = unique(), unique("doomed")
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        channel = connection.channel()
        returned: list[tuple[Any, Any, bytes]] = []
        channel.add_on_return_callback(lambda _ch, m, p, b: returned.append((m, p, b)))
        channel.basic_publish("amq.direct", "nowhere", b"back", pika.BasicProperties(
            correlation_id="r-1"), mandatory=True)
        channel.queue_declare(doomed)  # a round trip: the return came before its answer
        connection.process_data_events(0)
        assert len(returned) == 1
        method, props, body = returned[0]
        assert (method.reply_code, method.reply_text, method.exchange, method.routing_key,
                props.correlation_id, body) == (312, "NO_ROUTE", "amq.direct", "nowhere",
                                                "r-1", b"back")

        cancelled: list[Any] = []
        channel.add_on_cancel_callback(lambda frame: cancelled.append(frame.method))
        tag = channel.basic_consume(doomed, lambda *_: None)
        connection.channel().queue_delete(doomed)
        deadline = WAIT
        while not cancelled and deadline > 0:
            connection.process_data_events(0.05)
            deadline -= 0.05
        assert [(m.NAME, m.consumer_tag) for m in cancelled] == [("Basic.Cancel", tag)]

        tx = connection.channel()
        tx.queue_declare(queue)
        tx.tx_select()
        tx.basic_publish("", queue, b"rolled back")
        tx.tx_rollback()
        tx.basic_publish("", queue, b"committed")
        assert tx.queue_declare(queue, passive=True).method.message_count == 0
        tx.tx_commit()
        method, _, body = _get(connection, tx, queue)
        assert body == b"committed"  # the rolled back one would have come first
        tx.basic_ack(method.delivery_tag)
        tx.tx_commit()
        assert tx.basic_get(queue) == (None, None, None)
    finally:
        connection.close()


def test_exclusive_queue_is_locked_to_its_connection(server_url: str, unique: Unique) -> None:
    queue = unique()
    owner = pika.BlockingConnection(pika.URLParameters(server_url))
    other = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        owner.channel().queue_declare(queue, exclusive=True)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as locked:
            other.channel().basic_consume(queue, lambda *_: None)
        assert locked.value.reply_code == 405
        text = (f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{queue}' "
                f"in vhost '/'. It could be originally declared on another connection or the "
                f"exclusive property value does not match that of the original declaration.")
        assert len(text) > 255
        assert locked.value.reply_text == text[:252] + "..."  # a short string: 255 bytes
    finally:
        other.close()
        owner.close()


def test_bodies_split_at_a_small_frame_max(server_url: str, unique: Unique) -> None:
    queue = unique()
    small = _with(server_url, query="frame_max=4096")
    connection = pika.BlockingConnection(pika.URLParameters(small))
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.basic_publish("", queue, BIG)
        _, _, body = channel.basic_get(queue, auto_ack=True)
        assert body == BIG
    finally:
        connection.close()

    async def with_aio_pika() -> None:
        client = await aio_pika.connect(small)
        try:
            channel = await client.channel()
            await channel.default_exchange.publish(aio_pika.Message(BIG), queue)
            source = await channel.declare_queue(queue, passive=True)
            message = await source.get(timeout=WAIT)
            await message.ack()
            assert message.body == BIG
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(with_aio_pika(), WAIT))


def test_x_death_header_field_types(server_url: str, unique: Unique) -> None:
    source, dead = unique("source"), unique("dead")
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        channel = connection.channel()
        channel.queue_declare(dead)
        channel.queue_declare(source, arguments={"x-dead-letter-exchange": "",
                                                 "x-dead-letter-routing-key": dead})
        channel.basic_publish("", source, b"x", pika.BasicProperties(headers={"a": 1}))
        method, _, _ = _get(connection, channel, source)
        channel.basic_reject(method.delivery_tag, requeue=False)
        method, props, _ = _get(connection, channel, dead)
        headers = props.headers
        (death,) = headers.pop("x-death")
        assert headers == {"a": 1, "x-first-death-exchange": "",
                           "x-first-death-queue": source, "x-first-death-reason": "rejected"}
        when = death.pop("time")
        assert death == {"count": 1, "reason": "rejected", "queue": source, "exchange": "",
                         "routing-keys": [source]}
        assert isinstance(death["count"], pika.compat.long)  # a long-long ('l') on the wire
        assert isinstance(when, datetime.datetime)  # a timestamp ('T') on the wire
    finally:
        connection.close()


VANISHING_CLIENT = """
import os, sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(sys.argv[3], exclusive=True)
for _ in range(3):
    method, _, _ = channel.basic_get(sys.argv[2])
    assert method is not None
print("holding", flush=True)
sys.stdin.readline()
os._exit(0)  # no connection.close: the socket just goes
"""


def test_a_vanished_clients_deliveries_and_exclusive_queue(server_url: str,
                                                           unique: Unique) -> None:
    queue, private = unique(), unique("private")
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        channel.confirm_delivery()
        for n in range(3):
            channel.basic_publish("", queue, f"m{n}".encode())
        client = subprocess.Popen([sys.executable, "-c", VANISHING_CLIENT, server_url, queue,
                                   private], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        try:
            assert client.stdout is not None and client.stdin is not None
            assert client.stdout.readline() == "holding\n"
            assert channel.queue_declare(queue, passive=True).method.message_count == 0
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as locked:
                connection.channel().queue_declare(private, passive=True)
            assert locked.value.reply_code == 405  # there, and the client's own
            client.stdin.write("go\n")
            client.stdin.close()
            assert client.wait(WAIT) == 0
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            if client.stdout is not None:
                client.stdout.close()
        back = []
        for _ in range(3):
            method, _, body = _get(connection, channel, queue)
            back.append((body, method.redelivered))
            channel.basic_ack(method.delivery_tag)
        assert back == [(b"m0", True), (b"m1", True), (b"m2", True)]
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as gone:
            for _ in range(int(WAIT / 0.02)):  # RabbitMQ deletes it a moment later
                connection.channel().queue_declare(private, passive=True)
                connection.sleep(0.02)
        assert gone.value.reply_code == 404
    finally:
        connection.close()
