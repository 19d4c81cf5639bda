"""Application layer vs FastStream: producer → processor rate and RPC round-trip p50.

    build/venv/bin/python bench/app_vs_faststream.py [--url amqp://...] [--messages N]

In one run, on the memory transport vs FastStream's ``TestRabbitBroker`` (its in-memory
test broker):

- rate: messages/s from a producer's publish to a processor's handler (a JSON command,
  decoded, dispatched, acknowledged; consumer prefetch unlimited, as the test broker has no
  flow control);
- RPC: the p50 of a request/reply round trip.

With ``--url`` (a RabbitMQ server), also: msgbus producer → processor vs FastStream
``RabbitBroker`` publish → subscriber against the same server (both with publisher
confirms, a consumer prefetch of 100), and the msgbus RPC p50 vs raw pika request/reply
(direct reply-to) on the same server.

Needs the ``bench`` extra: ``build/venv/bin/pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgbus
from msgbus import (
    Exchange,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    MessageResult,
    RpcHandler,
)
from msgbus.handlers import ReplyFunction

PREFETCH = 100


def _exchange(tag: str) -> type[Exchange]:
    return type("BenchExchange", (Exchange,), {
        "name": f"bench-app-{tag}", "exchange_type": "direct", "durable": False,
        "auto_delete": True,
    })


class Sink(MessageProcessor):
    count = 0

    @MessageHandler("command", "job")
    def job(self, content: Any) -> None:
        self.count += 1

    @RpcHandler("command", "echo")
    def echo(self, content: Any, reply: ReplyFunction) -> None:
        reply(MessageResult(content["parameters"]["args"][0]))


def _parts(url: str, tag: str, *, confirm: bool = True) -> tuple[Sink, GenericProducer]:
    x = _exchange(tag)
    queue = {"name": f"bench-app-{tag}", "flags": {"auto_delete": True}}
    # On memory, no flow control (prefetch 0), like FastStream's test broker, which has none.
    prefetch = 0 if url.startswith("memory:") else PREFETCH
    sink = Sink(eqk=[(x, [(queue, "k")])], transport=msgbus.connect(url), prefetch=prefetch)

    class Producer(GenericProducer):
        eks = [(x, "k")]

    if confirm or url.startswith("memory:"):
        transport = msgbus.connect(url)
    else:
        from transports.rabbitmq import RabbitMQTransport

        transport = RabbitMQTransport.from_url(url, confirm_publishes=False)
    return sink, Producer(transport=transport)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


# -- msgbus ------------------------------------------------------------------------------


def msgbus_rate(url: str, n: int, *, threaded: bool, confirm: bool = True) -> float:
    """Messages/s publish → handler. Memory: one thread; RabbitMQ: processor in a thread."""
    sink, producer = _parts(url, uuid.uuid4().hex[:8], confirm=confirm)
    sink.process_events()
    if threaded:
        sink.start()
    start = time.perf_counter()
    for i in range(n):
        producer.message_job(i)
        if not threaded and i % 100 == 99:  # let the processor keep up
            sink.process_events()
    while sink.count < n:
        if threaded:
            time.sleep(0.0005)
        else:
            sink.process_events(0.01)
    elapsed = time.perf_counter() - start
    if threaded:
        sink.stop()
    _close(sink, producer)
    return n / elapsed


def msgbus_rpc(url: str, n: int, *, threaded: bool) -> list[float]:
    """RPC round trips (seconds). Memory: shared transport, one thread; RabbitMQ: threads."""
    tag = uuid.uuid4().hex[:8]
    if threaded:
        sink, producer = _parts(url, tag)
        sink.start()
    else:
        x = _exchange(tag)
        transport = msgbus.connect(url)
        sink = Sink(eqk=[(x, [(f"bench-app-{tag}", "k")])], transport=transport)

        class Producer(GenericProducer):
            eks = [(x, "k")]

        producer = Producer(transport=transport)
        sink.start_consuming()
    samples = []
    for i in range(n + n // 10):
        t0 = time.perf_counter()
        reply = producer.rpc_echo(i)
        t1 = time.perf_counter()
        assert reply.value == i, reply
        if i >= n // 10:  # warm-up excluded
            samples.append(t1 - t0)
    if threaded:
        sink.stop()
    _close(sink, producer)
    return samples


def _close(sink: Sink, producer: GenericProducer) -> None:
    producer.close()
    sink.close()
    for transport in (sink.transport, producer.transport):
        if transport.is_open:
            transport.close()


# -- FastStream --------------------------------------------------------------------------


def faststream_test_broker(n: int, rpc_n: int) -> tuple[float, list[float]]:
    from faststream.rabbit import RabbitBroker, TestRabbitBroker

    broker = RabbitBroker()
    count = 0

    @broker.subscriber("bench-fs-jobs")
    async def job(body: dict[str, Any]) -> None:
        nonlocal count
        count += 1

    @broker.subscriber("bench-fs-rpc")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    async def main() -> tuple[float, list[float]]:
        async with TestRabbitBroker(broker) as test_broker:
            start = time.perf_counter()
            for i in range(n):
                await test_broker.publish({"i": i}, "bench-fs-jobs")
            while count < n:
                await asyncio.sleep(0)
            rate = n / (time.perf_counter() - start)
            samples = []
            for i in range(rpc_n + rpc_n // 10):
                t0 = time.perf_counter()
                response = await test_broker.request({"i": i}, "bench-fs-rpc")
                decoded = await response.decode()
                t1 = time.perf_counter()
                assert decoded == {"i": i}, decoded
                if i >= rpc_n // 10:
                    samples.append(t1 - t0)
            return rate, samples

    return asyncio.run(main())


def faststream_rabbit_rate(url: str, n: int, *, confirm: bool = True) -> float:
    from faststream.rabbit import Channel, RabbitBroker, RabbitQueue

    channel = Channel(prefetch_count=PREFETCH, publisher_confirms=confirm)
    broker = RabbitBroker(url, logger=None, default_channel=channel)
    tag = uuid.uuid4().hex[:8]
    queue = RabbitQueue(f"bench-fs-{tag}", auto_delete=True)
    count = 0
    done = asyncio.Event()

    @broker.subscriber(queue)
    async def job(body: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    async def main() -> float:
        async with broker:
            await broker.start()
            start = time.perf_counter()
            for i in range(n):
                await broker.publish({"i": i}, queue)
            await asyncio.wait_for(done.wait(), 120)
            return n / (time.perf_counter() - start)

    return asyncio.run(main())


# -- raw pika ----------------------------------------------------------------------------


def pika_rpc(url: str, n: int) -> list[float]:
    import pika

    queue = f"bench-pika-{uuid.uuid4().hex[:8]}"
    ready = threading.Event()
    stop = threading.Event()

    def server() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare(queue, auto_delete=True)

        def on_request(ch: Any, method: Any, props: Any, body: bytes) -> None:
            ch.basic_publish("", props.reply_to, body,
                             pika.BasicProperties(correlation_id=props.correlation_id))
            ch.basic_ack(method.delivery_tag)

        channel.basic_qos(prefetch_count=PREFETCH)
        channel.basic_consume(queue, on_request)
        ready.set()
        while not stop.is_set():
            connection.process_data_events(0.05)
        connection.close()

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    ready.wait(10)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    replies: dict[str, bytes] = {}

    def on_reply(ch: Any, method: Any, props: Any, body: bytes) -> None:
        replies[props.correlation_id] = body

    channel.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
    samples = []
    for i in range(n + n // 10):
        correlation_id = str(i)
        t0 = time.perf_counter()
        channel.basic_publish("", queue, b'{"i": %d}' % i, pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to", correlation_id=correlation_id,
            content_type="application/json"))
        while correlation_id not in replies:
            connection.process_data_events(0.01)
        t1 = time.perf_counter()
        if i >= n // 10:
            samples.append(t1 - t0)
    connection.close()
    stop.set()
    thread.join(5)
    return samples


# -- the run -----------------------------------------------------------------------------


def best(runs: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a RabbitMQ server to compare on as well")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rpcs", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3, help="best of N (rates)")
    args = parser.parse_args(argv)
    n, rpc_n = args.messages, args.rpcs

    print(f"# memory transport vs FastStream TestRabbitBroker ({n} messages, {rpc_n} RPCs)")
    mem_url = f"memory://bench-{uuid.uuid4().hex[:8]}"
    m_rates, m_rpcs, fs = [], [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        m_rates.append(msgbus_rate(mem_url, n, threaded=False))
        m_rpcs.append(p50(msgbus_rpc(mem_url, rpc_n, threaded=False)))
        fs.append(faststream_test_broker(n, rpc_n))
    m_rate, m_rpc = max(m_rates), min(m_rpcs)
    fs_rate = max(rate for rate, _ in fs)
    fs_rpc = min(p50(samples) for _, samples in fs)
    print(f"producer -> processor   msgbus {m_rate:12,.0f} msg/s   FastStream {fs_rate:12,.0f}"
          f" msg/s   ratio {m_rate / fs_rate:6.1f}x  (target >= 50x)")
    print(f"RPC round trip p50      msgbus {m_rpc * 1e6:10.1f} us     FastStream "
          f"{fs_rpc * 1e6:10.1f} us     ratio {fs_rpc / m_rpc:6.1f}x  (target >= 50x)")

    if args.url:
        rn = min(n, 10_000)
        print(f"\n# RabbitMQ at {args.url.split('@')[-1]} ({rn} messages, {rpc_n} RPCs)")
        for confirm in (True, False):
            r_rate = best(args.runs, lambda c=confirm: msgbus_rate(  # type: ignore[misc]
                args.url, rn, threaded=True, confirm=c))
            f_rate = best(args.runs, lambda c=confirm: faststream_rabbit_rate(  # type: ignore[misc]
                args.url, rn, confirm=c))
            label = "confirmed  " if confirm else "unconfirmed"
            print(f"publish -> handler, {label}  msgbus {r_rate:9,.0f} msg/s   FastStream "
                  f"{f_rate:9,.0f} msg/s   ratio {r_rate / f_rate:5.1f}x  (target >= 5x)")
        r_rpc = p50(msgbus_rpc(args.url, rpc_n, threaded=True))
        k_rpc = p50(pika_rpc(args.url, rpc_n))
        print(f"RPC round trip p50      msgbus {r_rpc * 1e6:10.1f} us     raw pika   "
              f"{k_rpc * 1e6:10.1f} us     msgbus/pika {r_rpc / k_rpc:5.2f}  (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
