"""Tutorial 5 — topics: bindings with patterns over dotted words.

A ``topic`` exchange splits routing keys on ``.``; in a binding key ``*`` stands for
exactly one word and ``#`` for zero or more words. Animals are published as
``<speed>.<colour>.<species>``: the ``orange`` queue is bound with ``*.orange.*``, the
``rabbits_and_lazy`` queue with ``*.*.rabbit`` and ``lazy.#``. A message that matches two
bindings of one queue still arrives once. Run it against RabbitMQ (``AMQP_URL``, default
localhost) with ``python t5_topics.py``, or in-process with ``msgbus tutorial 5 --pika``.
"""

import os
import time

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
SUBSCRIPTIONS = {"orange": ["*.orange.*"], "rabbits_and_lazy": ["*.*.rabbit", "lazy.#"]}
KEYS = ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox",
        "lazy.brown.fox", "lazy.pink.rabbit", "quick.brown.fox", "orange",
        "quick.orange.new.rabbit", "lazy"]

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.exchange_declare(exchange="topic_logs", exchange_type="topic")

received = {}
for name, patterns in SUBSCRIPTIONS.items():
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    for pattern in patterns:
        channel.queue_bind(exchange="topic_logs", queue=queue, routing_key=pattern)
    received[name] = []

    def on_animal(ch, method, properties, body, name=name):
        received[name].append(method.routing_key)

    channel.basic_consume(queue=queue, on_message_callback=on_animal, auto_ack=True)

for key in KEYS:
    channel.basic_publish(exchange="topic_logs", routing_key=key, body=key.encode())
print(f"published {len(KEYS)} animals: {', '.join(KEYS)}")

expected = {"orange": 3, "rabbits_and_lazy": 5}
deadline = time.monotonic() + 10
while any(len(received[name]) < count for name, count in expected.items()):
    if time.monotonic() > deadline:
        raise SystemExit("gave up waiting for the animals")
    connection.process_data_events(time_limit=0.1)

for name, keys in received.items():
    print(f"{name} received: {', '.join(keys)}")

channel.exchange_delete(exchange="topic_logs")
connection.close()
