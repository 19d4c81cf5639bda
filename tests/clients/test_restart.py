"""Clients across a broker restart: the server closes every connection (320
CONNECTION_FORCED), aio-pika's robust connection comes back and restores its consumer,
kombu's ``ensure`` publishes again, and a durable queue keeps its persistent messages and
loses its transient ones. On RabbitMQ this needs the node scripts/test starts (it is
restarted with stop_app / start_app); elsewhere that parametrisation skips."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import aio_pika.abc
from kombu import Connection, Producer, Queue

from tests.clients.conftest import WAIT, Unique


def test_clients_come_back_after_a_restart(server_url: str, unique: Unique,
                                           restart_server: Callable[[], None]) -> None:
    consumed, kept = unique("consumed"), Queue(unique("kept"), durable=True)

    with Connection(server_url, connect_timeout=WAIT) as kombu_connection:
        producer = Producer(kombu_connection, serializer="json")
        producer.publish({"n": "kept"}, routing_key=kept.name, declare=[kept],
                         delivery_mode=2)
        producer.publish({"n": "lost"}, routing_key=kept.name, delivery_mode=1)

        async def scenario() -> None:
            connection = await aio_pika.connect_robust(server_url, reconnect_interval=0.2)
            try:
                reconnected = asyncio.Event()
                connection.reconnect_callbacks.add(lambda *_: reconnected.set())
                channel = await connection.channel()
                queue = await channel.declare_queue(consumed, durable=True)
                got: asyncio.Queue[bytes] = asyncio.Queue()

                async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                    await message.ack()
                    await got.put(message.body)

                await queue.consume(on_message)
                persistent = aio_pika.DeliveryMode.PERSISTENT
                await channel.default_exchange.publish(
                    aio_pika.Message(b"before", delivery_mode=persistent), consumed)
                assert await asyncio.wait_for(got.get(), WAIT) == b"before"
                # a round trip on the channel, so that the server has had the ack before the
                # restart (a robust channel answers a passive declare_queue from its cache)
                await queue.declare()

                await asyncio.to_thread(restart_server)
                await asyncio.wait_for(reconnected.wait(), WAIT * 3)
                await channel.default_exchange.publish(
                    aio_pika.Message(b"after", delivery_mode=persistent), consumed)
                assert await asyncio.wait_for(got.get(), WAIT) == b"after"
            finally:
                await connection.close()

        asyncio.run(asyncio.wait_for(scenario(), WAIT * 6))

        errors: list[Exception] = []
        publish = kombu_connection.ensure(producer, producer.publish, max_retries=5,
                                          interval_start=0.1,
                                          errback=lambda exc, _: errors.append(exc))
        publish({"n": "again"}, routing_key=kept.name, delivery_mode=2)
        assert len(errors) == 1  # the connection the restart closed, then a new one
        simple = kombu_connection.SimpleQueue(kept)
        try:
            bodies = []
            for _ in range(2):
                message = simple.get(block=True, timeout=WAIT)
                bodies.append(message.payload)
                message.ack()
            assert bodies == [{"n": "kept"}, {"n": "again"}]
            assert simple.qsize() == 0
        finally:
            simple.close()
