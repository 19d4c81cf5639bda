"""Tutorial 1 — hello world: one program puts a message in a queue, another takes it out.

Both halves run here, one after the other, on one connection:

- ``queue_declare("hello")`` makes sure the queue exists (declaring is idempotent);
- publishing to the default exchange (``""``) with routing key ``"hello"`` puts the message
  straight into the queue of that name;
- a consumer gets it, and stops after this one message.

Run it against RabbitMQ (``AMQP_URL``, default localhost) with ``python t1_hello_world.py``,
or in-process with ``msgbus tutorial 1 --pika``.
"""

import os

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.queue_declare(queue="hello")

channel.basic_publish(exchange="", routing_key="hello", body=b"Hello World!")
print("sent: Hello World!")


def on_message(ch, method, properties, body):
    print(f"received: {body.decode()}")
    ch.stop_consuming()  # one message is all this tutorial waits for


channel.basic_consume(queue="hello", on_message_callback=on_message, auto_ack=True)
channel.start_consuming()

channel.queue_delete(queue="hello")  # tidy up, so the tutorial can run again
connection.close()
