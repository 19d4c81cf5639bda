"""FastStream's real ``RabbitBroker`` (aio-pika underneath) over the wire, not its test
broker: a subscriber bound through a topic exchange, a publisher fed by a handler's return
value, and ``request`` (direct reply-to)."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

from tests.clients.conftest import WAIT, Unique


def test_subscriber_publisher_and_request(server_url: str, unique: Unique) -> None:
    orders = RabbitQueue(unique("orders"), routing_key="orders.*")
    totals_name, rpc_name = unique("totals"), unique("rpc")
    exchange = RabbitExchange(unique.exchange("topic"), type=ExchangeType.TOPIC)

    async def scenario() -> None:
        broker = RabbitBroker(server_url, logger=None)
        totals: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        received: list[tuple[str, dict[str, Any]]] = []

        @broker.subscriber(orders, exchange)
        @broker.publisher(totals_name)
        async def price(order: dict[str, Any], message: RabbitMessage) -> dict[str, Any]:
            received.append((message.raw_message.routing_key, order))
            return {"id": order["id"], "total": order["qty"] * order["price"]}

        @broker.subscriber(totals_name)
        async def collect(total: dict[str, Any]) -> None:
            await totals.put(total)

        @broker.subscriber(rpc_name)
        async def double(n: int) -> int:
            return n * 2

        async with broker:
            await broker.start()
            await broker.publish({"id": 1, "qty": 3, "price": 5}, exchange=exchange,
                                 routing_key="orders.eu")
            await broker.publish({"id": 2, "qty": 1, "price": 7}, exchange=exchange,
                                 routing_key="orders.us.west")  # matches no binding
            await broker.publish({"id": 3, "qty": 2, "price": 2}, exchange=exchange,
                                 routing_key="orders.us")
            got = [await asyncio.wait_for(totals.get(), WAIT) for _ in range(2)]
            assert sorted(got, key=lambda t: t["id"]) == [{"id": 1, "total": 15},
                                                          {"id": 3, "total": 4}]
            assert sorted(key for key, _ in received) == ["orders.eu", "orders.us"]

            response = await broker.request(21, rpc_name, timeout=WAIT)
            assert await response.decode() == 42
            replies = await asyncio.gather(*(
                broker.request(n, rpc_name, timeout=WAIT) for n in range(10)))
            assert [await r.decode() for r in replies] == [n * 2 for n in range(10)]
            assert totals.empty()

    asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))
