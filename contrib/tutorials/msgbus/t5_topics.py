"""Tutorial 5 — topics, with msgbus's Transport API.

A ``topic`` exchange matches dotted routing keys against binding patterns: ``*`` is one
word, ``#`` zero or more. ``orange`` is bound with ``*.orange.*``; ``rabbits_and_lazy``
with ``*.*.rabbit`` and ``lazy.#`` (so the key ``lazy`` matches too). See why with
``msgbus explain topic --binding 'lazy.#' --key lazy``. Run with ``python t5_topics.py``
(in-process), ``MSGBUS_URL=amqp://... python t5_topics.py`` (RabbitMQ) or
``msgbus tutorial 5``.
"""

from __future__ import annotations

import time

import msgbus
from msgbus import Delivery, ExchangeType

SUBSCRIPTIONS = {"orange": ["*.orange.*"], "rabbits_and_lazy": ["*.*.rabbit", "lazy.#"]}
KEYS = ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox",
        "lazy.brown.fox", "lazy.pink.rabbit", "quick.brown.fox", "orange",
        "quick.orange.new.rabbit", "lazy"]

with msgbus.connect() as transport:
    transport.declare_exchange("topic_logs", ExchangeType.TOPIC)

    received: dict[str, list[str]] = {}
    for name, patterns in SUBSCRIPTIONS.items():
        queue = transport.declare_queue("", exclusive=True).name
        for pattern in patterns:
            transport.bind_queue(queue, "topic_logs", pattern)
        keys: list[str] = []
        received[name] = keys

        def on_animal(delivery: Delivery, keys: list[str] = keys) -> None:
            keys.append(delivery.routing_key)

        transport.consume(queue, on_animal, auto_ack=True)

    for key in KEYS:
        transport.publish("topic_logs", key, key.encode())
    print(f"published {len(KEYS)} animals: {', '.join(KEYS)}")

    expected = {"orange": 3, "rabbits_and_lazy": 5}
    deadline = time.monotonic() + 10
    while any(len(received[name]) < count for name, count in expected.items()):
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting for the animals")
        transport.process_events(0.1)

    for name, keys in received.items():
        print(f"{name} received: {', '.join(keys)}")
    transport.delete_exchange("topic_logs")
