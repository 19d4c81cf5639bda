"""Tutorial 3 — publish/subscribe, with msgbus's Transport API.

A ``fanout`` exchange copies every message to every bound queue. Each subscriber declares
a server-named exclusive queue (``declare_queue("", exclusive=True)``) and binds it. Run
with ``python t3_publish_subscribe.py`` (in-process), ``MSGBUS_URL=amqp://... python
t3_publish_subscribe.py`` (RabbitMQ) or ``msgbus tutorial 3``.
"""

from __future__ import annotations

import time

import msgbus
from msgbus import Delivery, ExchangeType

LINES = ["disk is 80% full", "user alice logged in", "backup finished"]

with msgbus.connect() as transport:
    transport.declare_exchange("logs", ExchangeType.FANOUT)

    received: dict[str, list[str]] = {}
    for subscriber in ("screen", "archive"):
        queue = transport.declare_queue("", exclusive=True).name
        transport.bind_queue(queue, "logs")
        lines: list[str] = []
        received[subscriber] = lines

        def on_line(delivery: Delivery, lines: list[str] = lines) -> None:
            lines.append(delivery.body.decode())

        transport.consume(queue, on_line, auto_ack=True)

    for line in LINES:
        transport.publish("logs", "", line.encode())
        print(f"published: {line}")

    deadline = time.monotonic() + 10
    while any(len(lines) < len(LINES) for lines in received.values()):
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting for the subscribers")
        transport.process_events(0.1)

    for subscriber, lines in received.items():
        print(f"{subscriber} received: {'; '.join(lines)}")
    transport.delete_exchange("logs")
