"""Helpers for tests: unique names, waiting on a transport, server-side clean-up."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

from msgbus.transport import Transport

_counter = itertools.count()


class Names:
    """Unique names for one test, so tests never see each other's queues on a shared server."""

    def __init__(self, test_name: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test_name).strip("-")[-60:]
        self.prefix = f"t{next(_counter)}-{slug}"
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    @property
    def used(self) -> bool:
        return bool(self.queues or self.exchanges)

    def queue(self, label: str = "q") -> str:
        name = f"{self.prefix}.{label}"
        self.queues.append(name)
        return name

    def exchange(self, label: str = "x") -> str:
        name = f"{self.prefix}.{label}"
        self.exchanges.append(name)
        return name


def delete_on_server(url: str, names: Names) -> None:
    """Delete what a test declared on a real server (deleting what is gone is a no-op)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in names.queues:
            channel.queue_delete(queue)
        for exchange in names.exchanges:
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def wait_until(
    transport: Transport, condition: Callable[[], bool], timeout: float = 10.0
) -> None:
    """Process events on ``transport`` until ``condition()`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        transport.process_events(0.05)


def drain_bodies(transport: Transport, queue: str) -> list[bytes]:
    """Take every ready message of ``queue`` with auto-ack ``get``; their bodies in order."""
    bodies = []
    while (delivery := transport.get(queue, auto_ack=True)) is not None:
        bodies.append(delivery.body)
    return bodies
