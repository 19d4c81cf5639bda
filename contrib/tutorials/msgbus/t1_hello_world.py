"""Tutorial 1 — hello world, with msgbus's Transport API.

The same steps as the pika version: declare the queue ``hello``, publish to the default
exchange with routing key ``hello``, consume the one message. ``msgbus.connect()`` reads
``MSGBUS_URL``: the in-process broker by default, ``amqp://...`` for RabbitMQ::

    python t1_hello_world.py
    MSGBUS_URL=amqp://guest:guest@localhost/%2F python t1_hello_world.py
    msgbus tutorial 1          # with the broker's trace
"""

from __future__ import annotations

import time

import msgbus

with msgbus.connect() as transport:
    transport.declare_queue("hello")

    transport.publish("", "hello", b"Hello World!")
    print("sent: Hello World!")

    received: list[bytes] = []
    consumer = transport.consume("hello", lambda delivery: received.append(delivery.body),
                                 auto_ack=True, consumer_tag="receiver")
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        transport.process_events(0.1)  # callbacks run here, on this thread
    consumer.cancel()
    print(f"received: {received[0].decode()}")

    transport.delete_queue("hello")  # tidy up, so the tutorial can run again
