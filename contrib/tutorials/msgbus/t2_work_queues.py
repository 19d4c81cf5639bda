"""Tutorial 2 — work queues, with msgbus's Transport API.

Six persistent tasks go to the durable queue ``task_queue``; two workers (A and B, each
its own connection) take them with ``prefetch=1`` — one unacknowledged task at a time —
and acknowledge each when it is done. Run with ``python t2_work_queues.py`` (in-process),
``MSGBUS_URL=amqp://... python t2_work_queues.py`` (RabbitMQ) or ``msgbus tutorial 2``.
"""

from __future__ import annotations

import time

import msgbus
from msgbus import Delivery, DeliveryMode, Properties, Transport

TASKS = [f"task {n}" for n in range(1, 7)]
done: dict[str, list[str]] = {"A": [], "B": []}


def worker(name: str) -> Transport:
    transport = msgbus.connect()

    def on_task(delivery: Delivery) -> None:
        done[name].append(delivery.body.decode())  # "do" the task, then acknowledge it
        transport.ack(delivery.delivery_tag)

    transport.consume("task_queue", on_task, prefetch=1)
    return transport


with msgbus.connect() as transport:
    transport.declare_queue("task_queue", durable=True)
    for task in TASKS:
        transport.publish("", "task_queue", task.encode(),
                          Properties(delivery_mode=DeliveryMode.PERSISTENT))
        print(f"queued: {task}")

    workers = [worker("A"), worker("B")]
    deadline = time.monotonic() + 10
    while sum(len(tasks) for tasks in done.values()) < len(TASKS):
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting for the workers")
        for each in workers:
            each.process_events(0.05)

    finished = sorted(done["A"] + done["B"], key=TASKS.index)
    print(f"done, each exactly once: {', '.join(finished)}")
    print(f"both workers took a share: {bool(done['A']) and bool(done['B'])}")
    for each in workers:
        each.close()
    transport.delete_queue("task_queue")
