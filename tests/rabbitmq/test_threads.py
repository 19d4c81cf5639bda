"""The documented threading model: acks from worker threads are safe."""

from __future__ import annotations

import queue
import threading

import pytest

from msgbus.values import Delivery
from tests.support import Names, wait_until
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.rabbitmq


def test_workers_ack_while_the_owner_processes_events(amqp_url: str, names: Names) -> None:
    total = 2_000
    transport = RabbitMQTransport.from_url(amqp_url)
    q = names.queue()
    transport.declare_queue(q)
    for n in range(total):
        transport.publish("", q, str(n).encode())
    work: queue.Queue[Delivery | None] = queue.Queue()
    acked: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while (delivery := work.get()) is not None:
            transport.ack(delivery.delivery_tag)
            with lock:
                acked.append(int(delivery.body))

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    transport.consume(q, work.put, prefetch=50)
    try:
        wait_until(transport, lambda: len(acked) == total, timeout=60)
        transport.process_events(0.2)  # carry out the last acks
    finally:
        for _ in workers:
            work.put(None)
        for thread in workers:
            thread.join()
    assert sorted(acked) == list(range(total))
    transport.close()
    with RabbitMQTransport.from_url(amqp_url) as observer:
        assert observer.declare_queue(q, passive=True).message_count == 0


def test_ack_from_a_thread_after_close_only_warns(
    amqp_url: str, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    transport = RabbitMQTransport.from_url(amqp_url)
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"x")
    delivery = transport.get(q)
    assert delivery is not None
    transport.close()
    thread = threading.Thread(target=transport.ack, args=(delivery.delivery_tag,))
    thread.start()
    thread.join()
    assert any("ignored" in r.getMessage() for r in caplog.records)
