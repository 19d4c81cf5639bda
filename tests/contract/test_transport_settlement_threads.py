"""One model of settling from other threads on both transports: what a worker thread
settles waits for the transport's own thread (or whichever is processing its events), in
the order it was made, and an error it meets is raised there — by ``process_events``, not
in the worker — as the RabbitMQ transport must, pika being single-threaded."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.transport import Transport
from tests.support import Names


def _in_worker(action: Callable[[], None]) -> list[BaseException]:
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except errors.MsgbusError as exc:
            raised.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    return raised


def test_a_workers_bad_ack_is_raised_where_events_are_processed(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"job")
    delivery = transport.get(q)
    assert delivery is not None
    assert _in_worker(lambda: transport.ack(delivery.delivery_tag + 1000)) == []
    with pytest.raises(errors.PreconditionFailed, match="unknown delivery tag"):
        for _ in range(50):
            transport.process_events(0.1)


def test_a_workers_settlements_are_applied_in_their_order(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q = names.queue()
    transport.declare_queue(q)
    for n in range(3):
        transport.publish("", q, b"%d" % n)
    tags = []
    for _ in range(3):
        delivery = transport.get(q)
        assert delivery is not None
        tags.append(delivery.delivery_tag)

    def settle() -> None:
        transport.reject(tags[0], requeue=True)
        transport.ack(tags[2], multiple=True)  # the second and the third: the first is back

    assert _in_worker(settle) == []
    transport.process_events(0.2)
    again = transport.get(q)
    assert again is not None and (again.body, again.redelivered) == (b"0", True)
    transport.ack(again.delivery_tag)
    assert transport.get(q) is None
