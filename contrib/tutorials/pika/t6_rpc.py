"""Tutorial 6 — RPC: a request carries the address of its answer.

The server consumes ``rpc_queue`` and answers each request by publishing to the queue
named in the request's ``reply_to`` property, copying its ``correlation_id``. The client
declares an exclusive callback queue, sends requests, and matches each answer to its
request by correlation id. Here the server and the client share one connection (each on
its own channel); the client asks for three Fibonacci numbers. Run it against RabbitMQ
(``AMQP_URL``, default localhost) with ``python t6_rpc.py``, or in-process with
``msgbus tutorial 6 --pika``.
"""

import os
import time
import uuid

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")

connection = pika.BlockingConnection(pika.URLParameters(URL))


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


# -- the server --------------------------------------------------------------------
server = connection.channel()
server.queue_declare(queue="rpc_queue")
server.basic_qos(prefetch_count=1)


def on_request(ch, method, properties, body):
    n = int(body)
    ch.basic_publish(exchange="", routing_key=properties.reply_to,
                     properties=pika.BasicProperties(correlation_id=properties.correlation_id),
                     body=str(fibonacci(n)).encode())
    ch.basic_ack(delivery_tag=method.delivery_tag)


server.basic_consume(queue="rpc_queue", on_message_callback=on_request)

# -- the client --------------------------------------------------------------------
client = connection.channel()
callback_queue = client.queue_declare(queue="", exclusive=True).method.queue
answers = {}


def on_response(ch, method, properties, body):
    answers[properties.correlation_id] = int(body)


client.basic_consume(queue=callback_queue, on_message_callback=on_response, auto_ack=True)


def call(n):
    correlation_id = str(uuid.uuid4())
    client.basic_publish(exchange="", routing_key="rpc_queue", body=str(n).encode(),
                         properties=pika.BasicProperties(reply_to=callback_queue,
                                                         correlation_id=correlation_id))
    deadline = time.monotonic() + 10
    while correlation_id not in answers:
        if time.monotonic() > deadline:
            raise SystemExit(f"no answer for fib({n})")
        connection.process_data_events(time_limit=0.1)
    return answers.pop(correlation_id)


for n in (1, 10, 30):
    print(f"asked fib({n})")
    print(f"got fib({n}) = {call(n)}")

server.queue_delete(queue="rpc_queue")
connection.close()
