"""Tutorial 2 — work queues: several workers share the tasks of one queue.

- the queue is durable and the tasks persistent, so a broker restart keeps them;
- each worker acknowledges a task only when it is done: a worker that dies mid-task
  gives its task back to the queue;
- ``basic_qos(prefetch_count=1)`` asks the broker to hand a worker one task at a time, so
  a busy worker is skipped rather than handed a backlog.

Two workers, A and B, each on its own channel, share six tasks; the program stops when
all six are done. Run it against RabbitMQ (``AMQP_URL``, default localhost) with
``python t2_work_queues.py``, or in-process with ``msgbus tutorial 2 --pika``.
"""

import os
import time

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
TASKS = [f"task {n}" for n in range(1, 7)]

connection = pika.BlockingConnection(pika.URLParameters(URL))
channel = connection.channel()
channel.queue_declare(queue="task_queue", durable=True)

for task in TASKS:
    channel.basic_publish(
        exchange="", routing_key="task_queue", body=task.encode(),
        properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
    print(f"queued: {task}")

done = {"A": [], "B": []}


def worker(name):
    worker_channel = connection.channel()
    worker_channel.basic_qos(prefetch_count=1)

    def on_task(ch, method, properties, body):
        done[name].append(body.decode())  # "do" the task, then acknowledge it
        ch.basic_ack(delivery_tag=method.delivery_tag)

    worker_channel.basic_consume(queue="task_queue", on_message_callback=on_task)
    return worker_channel


workers = [worker("A"), worker("B")]
deadline = time.monotonic() + 10
while sum(len(tasks) for tasks in done.values()) < len(TASKS):
    if time.monotonic() > deadline:
        raise SystemExit("gave up waiting for the workers")
    connection.process_data_events(time_limit=0.1)

finished = sorted(done["A"] + done["B"], key=TASKS.index)
print(f"done, each exactly once: {', '.join(finished)}")
print(f"both workers took a share: {bool(done['A']) and bool(done['B'])}")

channel.queue_delete(queue="task_queue")
connection.close()
