"""aio-pika over the wire: a robust connection that comes back after the broker closed it,
publisher confirms (acks, a nack, a return), a consumer with prefetch and requeue, and RPC
over direct reply-to (``amq.rabbitmq.reply-to``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import aio_pika.abc
import aiormq.exceptions
import pytest
from pamqp import commands

from tests.clients.conftest import WAIT, Unique


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))


def test_robust_connection_comes_back_and_restores_its_consumer(
        server_url: str, unique: Unique) -> None:
    queue_name = unique()

    async def scenario() -> None:
        connection = await aio_pika.connect_robust(server_url, reconnect_interval=0.1)
        try:
            reconnected = asyncio.Event()
            connection.reconnect_callbacks.add(lambda *_: reconnected.set())
            channel = await connection.channel()
            queue = await channel.declare_queue(queue_name)
            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                await message.ack()  # before the test goes on: the ack precedes its frames
                await got.put(message.body)

            await queue.consume(on_message)
            await channel.default_exchange.publish(aio_pika.Message(b"before"), queue_name)
            assert await asyncio.wait_for(got.get(), WAIT) == b"before"

            other = await connection.channel()
            with pytest.raises(aiormq.exceptions.ConnectionCommandInvalid,
                               match="COMMAND_INVALID - unknown exchange type 'no-such'"):
                await other.declare_exchange(unique.exchange(), type="no-such")
            await asyncio.wait_for(reconnected.wait(), WAIT)

            await channel.default_exchange.publish(aio_pika.Message(b"after"), queue_name)
            assert await asyncio.wait_for(got.get(), WAIT) == b"after"
        finally:
            await connection.close()

    _run(scenario)


def test_publisher_confirms(server_url: str, unique: Unique) -> None:
    queue_name, full_name = unique(), unique("full")

    async def scenario() -> None:
        connection = await aio_pika.connect(server_url)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            queue = await channel.declare_queue(queue_name)
            exchange = channel.default_exchange
            confirms = await asyncio.gather(*(
                exchange.publish(aio_pika.Message(f"m{n}".encode()), queue_name)
                for n in range(200)))
            assert all(isinstance(c, commands.Basic.Ack) for c in confirms)
            declared = await channel.declare_queue(queue_name, passive=True)
            assert declared.declaration_result.message_count == 200

            with pytest.raises(aio_pika.exceptions.DeliveryError) as returned:
                await exchange.publish(aio_pika.Message(b"x"), unique("nowhere"))
            assert returned.value.message is not None
            assert returned.value.message.body == b"x"

            await channel.declare_queue(full_name, arguments={
                "x-max-length": 1, "x-overflow": "reject-publish"})
            await exchange.publish(aio_pika.Message(b"fits"), full_name)
            with pytest.raises(aio_pika.exceptions.DeliveryError) as nacked:
                await exchange.publish(aio_pika.Message(b"refused"), full_name)
            assert isinstance(nacked.value.frame, commands.Basic.Nack)
            await queue.purge()
        finally:
            await connection.close()

    _run(scenario)


def test_consumer_with_prefetch_and_requeue(server_url: str, unique: Unique) -> None:
    queue_name = unique()

    async def scenario() -> None:
        connection = await aio_pika.connect(server_url)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=5)
            queue = await channel.declare_queue(queue_name)
            for n in range(10):
                await channel.default_exchange.publish(aio_pika.Message(
                    f"m{n}".encode(), headers={"n": n}, content_type="text/plain",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue_name)
            seen: list[tuple[bytes, bool]] = []
            async with queue.iterator(timeout=WAIT) as messages:
                async for message in messages:
                    seen.append((message.body, message.redelivered))
                    assert message.headers == {"n": int(message.body[1:])}
                    assert message.content_type == "text/plain"
                    if message.body == b"m3" and not message.redelivered:
                        await message.reject(requeue=True)
                    else:
                        await message.ack()
                    if len(seen) == 11:
                        break
            bodies = [body for body, _ in seen]
            assert sorted(set(bodies)) == sorted(f"m{n}".encode() for n in range(10))
            assert bodies.count(b"m3") == 2
            assert [redelivered for body, redelivered in seen if body == b"m3"] == [False,
                                                                                     True]
            declared = await channel.declare_queue(queue_name, passive=True)
            assert declared.declaration_result.message_count == 0
        finally:
            await connection.close()

    _run(scenario)


def test_rpc_over_direct_reply_to(server_url: str, unique: Unique) -> None:
    queue_name = unique("rpc")

    async def scenario() -> None:
        server = await aio_pika.connect(server_url)
        client = await aio_pika.connect(server_url)
        try:
            server_channel = await server.channel()
            requests = await server_channel.declare_queue(queue_name)

            async def serve(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    assert message.reply_to is not None
                    assert message.reply_to.startswith("amq.rabbitmq.reply-to.")
                    await server_channel.default_exchange.publish(
                        aio_pika.Message(message.body.upper(),
                                         correlation_id=message.correlation_id),
                        message.reply_to)

            await requests.consume(serve)

            channel = await client.channel()
            reply_queue = await channel.declare_queue("amq.rabbitmq.reply-to", passive=True)
            pending: dict[str, asyncio.Future[bytes]] = {}

            async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                assert message.correlation_id is not None
                pending.pop(message.correlation_id).set_result(message.body)

            await reply_queue.consume(on_reply, no_ack=True)

            async def call(body: bytes) -> bytes:
                correlation_id = uuid.uuid4().hex
                future = asyncio.get_running_loop().create_future()
                pending[correlation_id] = future
                await channel.default_exchange.publish(aio_pika.Message(
                    body, correlation_id=correlation_id,
                    reply_to="amq.rabbitmq.reply-to"), queue_name)
                return await asyncio.wait_for(future, WAIT)

            assert await call(b"ping") == b"PING"
            replies = await asyncio.gather(*(call(f"r{n}".encode()) for n in range(20)))
            assert replies == [f"R{n}".encode() for n in range(20)]
        finally:
            await client.close()
            await server.close()

    _run(scenario)


def test_immediate_publish_closes_the_connection(server_url: str) -> None:
    """RabbitMQ does not implement ``immediate``: a publish with it is a connection error."""

    async def scenario() -> None:
        connection = await aio_pika.connect(server_url)
        try:
            closed: asyncio.Future[BaseException | None] = (
                asyncio.get_running_loop().create_future())
            connection.close_callbacks.add(
                lambda _c, exc: closed.done() or closed.set_result(exc))
            channel = await connection.channel(publisher_confirms=False)
            await channel.default_exchange.publish(aio_pika.Message(b"x"), "nowhere",
                                                   immediate=True, mandatory=False)
            error = await asyncio.wait_for(closed, WAIT)
            assert isinstance(error, aiormq.exceptions.ConnectionNotImplemented)
            assert str(error) == "NOT_IMPLEMENTED - immediate=true"
        finally:
            await connection.close()

    _run(scenario)


def test_float_arguments_keep_their_type(server_url: str, unique: Unique) -> None:
    """aio-pika (pamqp) sends a Python float as an AMQP float ('f'): RabbitMQ refuses it
    where an integer is due, and a headers binding on 1.5 does not match a header of 1."""
    bound_name = unique("bound")

    async def scenario() -> None:
        connection = await aio_pika.connect(server_url)
        try:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as refused:
                await channel.declare_queue("", exclusive=True,
                                            arguments={"x-message-ttl": 1.5})
            assert str(refused.value).startswith(
                "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'amq.gen-")
            assert str(refused.value).endswith(
                "' in vhost '/': \"expected integer, got float\"")

            channel = await connection.channel()
            bound = await channel.declare_queue(bound_name)
            await bound.bind("amq.headers", arguments={"x-match": "any", "f": 1.5})
            headers = await channel.get_exchange("amq.headers")
            for value in (1, 1.5):
                await headers.publish(aio_pika.Message(repr(value).encode(),
                                                       headers={"f": value}), "")
            message = await bound.get(timeout=WAIT)
            await message.ack()
            assert message.body == b"1.5"
            assert (await bound.get(fail=False, timeout=WAIT)) is None
        finally:
            await connection.close()

    _run(scenario)


def test_large_messages_on_several_channels_at_once(server_url: str) -> None:
    """Deliveries of 50-55 KB bodies, in 4 KB frames, to consumers on three channels of one
    connection at the same time: each arrives whole and in order on its channel."""

    async def scenario() -> None:
        connection = await aio_pika.connect(f"{server_url}?frame_max=4096")
        try:
            channels = [await connection.channel() for _ in range(3)]
            queues = [await ch.declare_queue("", exclusive=True) for ch in channels]
            sent = {i: [bytes([i, j]) * (25_000 + 500 * j) for j in range(5)]
                    for i in range(3)}
            await asyncio.gather(*(
                channels[i].default_exchange.publish(aio_pika.Message(body), queues[i].name)
                for i in range(3) for body in sent[i]))
            got: dict[int, list[bytes]] = {i: [] for i in range(3)}
            done = asyncio.Event()

            def collector(i: int) -> Callable[[aio_pika.abc.AbstractIncomingMessage],
                                              Awaitable[None]]:
                async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                    got[i].append(message.body)
                    await message.ack()
                    if sum(map(len, got.values())) == 15:
                        done.set()
                return on_message

            for i, queue in enumerate(queues):
                await queue.consume(collector(i))
            await asyncio.wait_for(done.wait(), WAIT)
            assert got == sent
        finally:
            await connection.close()

    _run(scenario)
