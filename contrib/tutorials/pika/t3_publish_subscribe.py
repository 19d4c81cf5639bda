"""Tutorial 3 — publish/subscribe: every subscriber gets every message.

- a ``fanout`` exchange copies each message to every queue bound to it, ignoring the key;
- each subscriber declares its own queue with an empty name: the broker names it
  (``amq.gen-...``), and ``exclusive=True`` deletes it when the connection closes;
- binding the queue to the exchange is what subscribes it.

Two subscribers receive the same three log lines. Run it against RabbitMQ (``AMQP_URL``,
default localhost) with ``python t3_publish_subscribe.py``, or in-process with
``msgbus tutorial 3 --pika``.
"""

import os
import time

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
LINES = ["disk is 80% full", "user alice logged in", "backup finished"]

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.exchange_declare(exchange="logs", exchange_type="fanout")

received = {}
for subscriber in ("screen", "archive"):
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(exchange="logs", queue=queue)
    received[subscriber] = []

    def on_line(ch, method, properties, body, subscriber=subscriber):
        received[subscriber].append(body.decode())

    channel.basic_consume(queue=queue, on_message_callback=on_line, auto_ack=True)

for line in LINES:
    channel.basic_publish(exchange="logs", routing_key="", body=line.encode())
    print(f"published: {line}")

deadline = time.monotonic() + 10
while any(len(lines) < len(LINES) for lines in received.values()):
    if time.monotonic() > deadline:
        raise SystemExit("gave up waiting for the subscribers")
    connection.process_data_events(time_limit=0.1)

for subscriber, lines in received.items():
    print(f"{subscriber} received: {'; '.join(lines)}")

channel.exchange_delete(exchange="logs")
connection.close()
