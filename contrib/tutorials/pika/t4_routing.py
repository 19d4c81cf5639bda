"""Tutorial 4 — routing: a ``direct`` exchange sends a message to the queues bound with
exactly its routing key.

Log lines are published with their severity as the routing key. The ``alerts`` queue is
bound with ``error`` only; the ``console`` queue with ``info``, ``warning`` and ``error``
(one queue may have many bindings). Run it against RabbitMQ (``AMQP_URL``, default
localhost) with ``python t4_routing.py``, or in-process with ``msgbus tutorial 4 --pika``.
"""

import os
import time

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
SUBSCRIPTIONS = {"alerts": ["error"], "console": ["info", "warning", "error"]}
MESSAGES = [("info", "service started"), ("warning", "slow response"),
            ("error", "payment failed"), ("debug", "nobody listens to debug")]

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.exchange_declare(exchange="direct_logs", exchange_type="direct")

received = {}
for name, severities in SUBSCRIPTIONS.items():
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    for severity in severities:
        channel.queue_bind(exchange="direct_logs", queue=queue, routing_key=severity)
    received[name] = []

    def on_line(ch, method, properties, body, name=name):
        received[name].append(f"[{method.routing_key}] {body.decode()}")

    channel.basic_consume(queue=queue, on_message_callback=on_line, auto_ack=True)

for severity, text in MESSAGES:
    channel.basic_publish(exchange="direct_logs", routing_key=severity, body=text.encode())
    print(f"published [{severity}] {text}")

expected = {"alerts": 1, "console": 3}
deadline = time.monotonic() + 10
while any(len(received[name]) < count for name, count in expected.items()):
    if time.monotonic() > deadline:
        raise SystemExit("gave up waiting for the log lines")
    connection.process_data_events(time_limit=0.1)

for name, lines in received.items():
    print(f"{name} received: {'; '.join(lines)}")

channel.exchange_delete(exchange="direct_logs")
connection.close()
