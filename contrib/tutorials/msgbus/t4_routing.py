"""Tutorial 4 — routing, with msgbus's Transport API.

A ``direct`` exchange delivers a message to the queues bound with exactly its routing key:
``alerts`` is bound with ``error``, ``console`` with ``info``, ``warning`` and ``error``;
nobody binds ``debug``. Run with ``python t4_routing.py`` (in-process),
``MSGBUS_URL=amqp://... python t4_routing.py`` (RabbitMQ) or ``msgbus tutorial 4``.
"""

from __future__ import annotations

import time

import msgbus
from msgbus import Delivery, ExchangeType

SUBSCRIPTIONS = {"alerts": ["error"], "console": ["info", "warning", "error"]}
MESSAGES = [("info", "service started"), ("warning", "slow response"),
            ("error", "payment failed"), ("debug", "nobody listens to debug")]

with msgbus.connect() as transport:
    transport.declare_exchange("direct_logs", ExchangeType.DIRECT)

    received: dict[str, list[str]] = {}
    for name, severities in SUBSCRIPTIONS.items():
        queue = transport.declare_queue("", exclusive=True).name
        for severity in severities:
            transport.bind_queue(queue, "direct_logs", severity)
        lines: list[str] = []
        received[name] = lines

        def on_line(delivery: Delivery, lines: list[str] = lines) -> None:
            lines.append(f"[{delivery.routing_key}] {delivery.body.decode()}")

        transport.consume(queue, on_line, auto_ack=True)

    for severity, text in MESSAGES:
        transport.publish("direct_logs", severity, text.encode())
        print(f"published [{severity}] {text}")

    expected = {"alerts": 1, "console": 3}
    deadline = time.monotonic() + 10
    while any(len(received[name]) < count for name, count in expected.items()):
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting for the log lines")
        transport.process_events(0.1)

    for name, lines in received.items():
        print(f"{name} received: {'; '.join(lines)}")
    transport.delete_exchange("direct_logs")
