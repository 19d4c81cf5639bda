#!/usr/bin/env python
"""Work queue with consumer threads, each with its own connection; the main thread
publishes the tasks, waits until all are done, then stops the workers thread-safely."""
import threading
import time

import pika

TASKS = 20
WORKERS = 3
done = []
done_lock = threading.Lock()
all_done = threading.Event()


def worker(name, ready):
    connection = pika.BlockingConnection(pika.ConnectionParameters(host='localhost'))
    channel = connection.channel()
    channel.queue_declare(queue='task_queue', durable=True)
    channel.basic_qos(prefetch_count=1)

    def callback(ch, method, properties, body):
        with done_lock:
            done.append((name, body.decode()))
            if len(done) == TASKS:
                all_done.set()
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_consume(queue='task_queue', on_message_callback=callback)
    ready.append((connection, channel))
    channel.start_consuming()
    connection.close()


def main():
    ready = []
    threads = [threading.Thread(target=worker, args=(f"w{i}", ready)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    while len(ready) < WORKERS:
        time.sleep(0.01)
    connection = pika.BlockingConnection(pika.ConnectionParameters(host='localhost'))
    channel = connection.channel()
    channel.queue_declare(queue='task_queue', durable=True)
    for i in range(TASKS):
        channel.basic_publish(
            exchange='', routing_key='task_queue', body=f"task {i}",
            properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
    connection.close()
    all_done.wait(30)
    for worker_connection, worker_channel in ready:
        worker_connection.add_callback_threadsafe(worker_channel.stop_consuming)
    for thread in threads:
        thread.join(30)
    print(f" [x] {len(done)} tasks done by {len({name for name, _ in done})} workers")


if __name__ == '__main__':
    main()
