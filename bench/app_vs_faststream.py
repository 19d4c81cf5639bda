"""Application layer vs FastStream: producer → processor rate and RPC round-trip p50.

    build/venv/bin/python bench/app_vs_faststream.py [--url amqp://...] [--messages N]
        [--rpcs N] [--runs N]

On the memory transport vs FastStream's ``TestRabbitBroker`` (its in-memory test broker):

- rate: messages/s from a producer's publish to a processor's handler (a JSON command,
  decoded, dispatched, acknowledged; consumer prefetch unlimited, as the test broker has no
  flow control);
- RPC: the p50 of a request/reply round trip.

With ``--url`` (a RabbitMQ server), also: msgbus producer → processor vs FastStream
``RabbitBroker`` publish → subscriber against the same server (a consumer prefetch of
100): with publisher confirms and without, each message published alone on both sides
(every ``publish`` awaited), then msgbus publishing in batches (``producer.batch()``,
confirms awaited together) against FastStream publishing one by one and, with confirms,
against FastStream awaiting its publishes 100 at a time (``asyncio.gather``); and the
msgbus RPC p50 vs raw pika request/reply (direct reply-to; the caller's request
confirmed, the reply not) on the same server.

Every line is measured once per run, the two sides one after the other in an order that
alternates from run to run, so that load on the machine hits both alike; the RabbitMQ RPC
sets both sides up at once and alternates blocks of 50 calls instead, as a round trip
there moves with the load of the moment. The report gives medians over the runs and the
range of the per-run ratios.

Needs the ``bench`` extra: ``build/venv/bin/pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
    Delivery,
    Exchange,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    MessageResult,
    Properties,
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
    #: Bodies the size of the RPC's request and reply, for the transport-only round trip.
    request_body = (b'{"type":"command","name":"echo","category":"rpc","version":"2",'
                    b'"fingerprint":{"name":null,"type":null,"pid":"1","host":"h","user":"u",'
                    b'"vhost":"/"},"content":{"parameters":{"args":[1],"kwargs":{}}},'
                    b'"_reserved":{}}')
    reply_body = (b'{"type":"result","name":"result","category":"message","version":"2",'
                  b'"fingerprint":{},"content":{"type":"success","value":1,"message":""},'
                  b'"_reserved":{}}')

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


def msgbus_rate(url: str, n: int, *, threaded: bool, confirm: bool = True,
                batch: bool = False) -> float:
    """Messages/s publish → handler. Memory: one thread; RabbitMQ: processor in a thread.
    ``batch``: published in ``producer.batch()`` (500 messages a batch)."""
    sink, producer = _parts(url, uuid.uuid4().hex[:8], confirm=confirm)
    sink.process_events()
    if threaded:
        sink.start()
    start = time.perf_counter()
    with producer.batch() if batch else contextlib.nullcontext():
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


def msgbus_rpc(url: str, n: int) -> list[float]:
    """RPC round trips (seconds) on the memory transport: one transport shared by the
    producer and the processor, one thread."""
    tag = uuid.uuid4().hex[:8]
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
    _close(sink, producer)
    return samples


def transport_rpc(url: str, n: int) -> list[float]:
    """The memory RPC's round trip on the ``Transport`` API alone, for reference: the same
    exchange, queue, properties and direct reply-to, ready-made bodies, and no application
    layer (nothing built, encoded, decoded, validated or dispatched)."""
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"bench-transport-{tag}", f"bench-transport-{tag}"
    transport = msgbus.connect(url)
    transport.declare_exchange(exchange, "direct", auto_delete=True)
    transport.declare_queue(queue, auto_delete=True)
    transport.bind_queue(queue, exchange, "k")
    request = Sink.request_body
    reply_body = Sink.reply_body
    replies: list[Delivery] = []

    def serve(delivery: Delivery) -> None:
        transport.publish("", str(delivery.properties.reply_to), reply_body, Properties(
            "application/json", None, None, None, None, delivery.properties.correlation_id))
        transport.ack(delivery.delivery_tag)

    transport.consume(queue, serve)
    transport.consume("amq.rabbitmq.reply-to", replies.append, auto_ack=True)
    samples = []
    for i in range(n + n // 10):
        t0 = time.perf_counter()
        transport.publish(exchange, "k", request, Properties(
            "application/json", None, None, None, None, str(i), "amq.rabbitmq.reply-to"))
        while not replies:
            transport.process_events(0.05)
        t1 = time.perf_counter()
        replies.pop()
        if i >= n // 10:  # warm-up excluded
            samples.append(t1 - t0)
    transport.close()
    return samples


def json_round_trip(n: int) -> float:
    """Seconds the JSON codec alone takes per RPC: the request's and the reply's bodies
    (the dictionaries the application layer sends) each encoded and decoded once."""
    from msgbus.codecs import JsonEncoder

    codec = JsonEncoder()
    request, reply = codec.decode(Sink.request_body), codec.decode(Sink.reply_body)
    start = time.perf_counter()
    for _ in range(n):
        codec.decode(codec.encode(request))
        codec.decode(codec.encode(reply))
    return (time.perf_counter() - start) / n


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


def faststream_rabbit_rate(url: str, n: int, *, confirm: bool = True, gather: int = 1) -> float:
    """Messages/s publish → subscriber; ``gather``: publishes awaited that many at a time."""
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
            for first in range(0, n, gather):
                await asyncio.gather(*(broker.publish({"i": i}, queue)
                                       for i in range(first, min(first + gather, n))))
            await asyncio.wait_for(done.wait(), 120)
            return n / (time.perf_counter() - start)

    return asyncio.run(main())


# -- raw pika ----------------------------------------------------------------------------


class PikaRpc:
    """Raw pika request/reply: a server thread replying on its channel, a caller publishing
    with confirms to direct reply-to."""

    def __init__(self, url: str) -> None:
        import pika

        self._pika = pika
        self.queue = f"bench-pika-{uuid.uuid4().hex[:8]}"
        ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(url, ready), daemon=True)
        self._thread.start()
        ready.wait(10)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.replies: dict[str, bytes] = {}

        def on_reply(ch: Any, method: Any, props: Any, body: bytes) -> None:
            self.replies[props.correlation_id] = body

        self.channel.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)

    def _serve(self, url: str, ready: threading.Event) -> None:
        pika = self._pika
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare(self.queue, auto_delete=True)

        def on_request(ch: Any, method: Any, props: Any, body: bytes) -> None:
            ch.basic_publish("", props.reply_to, body,
                             pika.BasicProperties(correlation_id=props.correlation_id))
            ch.basic_ack(method.delivery_tag)

        channel.basic_qos(prefetch_count=PREFETCH)
        channel.basic_consume(self.queue, on_request)
        ready.set()
        while not self._stop.is_set():
            connection.process_data_events(0.05)
        connection.close()

    def call(self, i: int) -> float:
        """One round trip (seconds)."""
        correlation_id = str(i)
        t0 = time.perf_counter()
        self.channel.basic_publish("", self.queue, b'{"i": %d}' % i, self._pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to", correlation_id=correlation_id,
            content_type="application/json"))
        while correlation_id not in self.replies:
            self.connection.process_data_events(0.01)
        t1 = time.perf_counter()
        del self.replies[correlation_id]
        return t1 - t0

    def close(self) -> None:
        self.connection.close()
        self._stop.set()
        self._thread.join(5)


def rpc_side_by_side(url: str, n: int, block: int = 50) -> tuple[float, float]:
    """p50 round trips (seconds) of the msgbus RPC (processor in a thread) and of raw pika,
    both set up at once and called in alternating blocks of ``block`` calls, so that the
    load of the machine at any moment hits both alike."""
    sink, producer = _parts(url, uuid.uuid4().hex[:8])
    sink.start()
    raw = PikaRpc(url)

    def ours(i: int) -> float:
        t0 = time.perf_counter()
        reply = producer.rpc_echo(i)
        t1 = time.perf_counter()
        assert reply.value == i, reply
        return t1 - t0

    try:
        for i in range(n // 10):  # warm-up, not counted
            ours(i)
            raw.call(i)
        samples: dict[Callable[[int], float], list[float]] = {ours: [], raw.call: []}
        for first in range(0, n, block):
            sides = (ours, raw.call) if first // block % 2 == 0 else (raw.call, ours)
            for side in sides:
                samples[side].extend(side(i) for i in range(first, min(first + block, n)))
    finally:
        raw.close()
        sink.stop()
        _close(sink, producer)
    return p50(samples[ours]), p50(samples[raw.call])


# -- the run -----------------------------------------------------------------------------


class Line:
    """One line of the report: msgbus and its peer, measured once per run."""

    def __init__(self, label: str, unit: str, peer: str, target: str, ratio: str) -> None:
        self.label, self.unit, self.peer, self.target = label, unit, peer, target
        self.ratio = ratio  # "msgbus/peer" or "peer/msgbus"
        self.ours: list[float] = []
        self.theirs: list[float] = []

    def add(self, ours: float, theirs: float) -> None:
        self.ours.append(ours)
        self.theirs.append(theirs)

    def ratios(self) -> list[float]:
        """The ratio of each run."""
        pairs = zip(self.ours, self.theirs, strict=True)
        if self.ratio == "msgbus/peer":
            return [ours / theirs for ours, theirs in pairs]
        return [theirs / ours for ours, theirs in pairs]

    def show(self) -> str:
        scale, fmt = (1.0, "{:10,.0f}") if self.unit == "msg/s" else (1e6, "{:10,.1f}")
        ours = fmt.format(statistics.median(self.ours) * scale)
        theirs = fmt.format(statistics.median(self.theirs) * scale)
        ratios = self.ratios()
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        return (f"{self.label:38s} msgbus {ours} {self.unit:5s}  {self.peer:10s} {theirs} "
                f"{self.unit:5s}  {self.ratio} {statistics.median(ratios):6.2f} ({spread})  "
                f"target {self.target}")


def interleaved(*measures: Callable[[], float], run: int) -> list[float]:
    """Run each measure once, in an order that alternates from run to run."""
    order = list(range(len(measures)))
    if run % 2:
        order.reverse()
    results: dict[int, float] = {}
    for index in order:
        results[index] = measures[index]()
    return [results[index] for index in range(len(measures))]


RATE_LINES = (  # (label, msgbus confirms, msgbus batches, FastStream confirms, gather)
    ("confirms, one by one", True, False, True, 1),
    ("no confirms, one by one", False, False, False, 1),
    ("confirms, msgbus batches", True, True, True, 1),
    ("no confirms, msgbus batches", False, True, False, 1),
    ("confirms, batches vs gather 100", True, True, True, 100),
)


def rabbitmq_run(url: str, n: int, rpc_n: int, lines: list[Line], run: int) -> None:
    for line, (_label, confirm, batch, fs_confirm, gather) in zip(
            lines[:len(RATE_LINES)], RATE_LINES, strict=True):
        def ours(c: bool = confirm, b: bool = batch) -> float:
            return msgbus_rate(url, n, threaded=True, confirm=c, batch=b)

        def theirs(c: bool = fs_confirm, g: int = gather) -> float:
            return faststream_rabbit_rate(url, n, confirm=c, gather=g)

        line.add(*interleaved(ours, theirs, run=run))
    lines[len(RATE_LINES)].add(*rpc_side_by_side(url, rpc_n))


MEMORY_LINES = 3  # the report's lines for the memory transport, before RabbitMQ's


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a RabbitMQ server to compare on as well")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rpcs", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of every line, interleaved; medians are reported")
    args = parser.parse_args(argv)
    n, rpc_n, rn = args.messages, args.rpcs, min(args.messages, 10_000)
    mem_url = f"memory://bench-{uuid.uuid4().hex[:8]}"
    lines = [
        Line("producer -> processor", "msg/s", "FastStream", ">= 50", "msgbus/peer"),
        Line("RPC round trip p50", "us", "FastStream", ">= 50", "peer/msgbus"),
        Line("  the same on the Transport API alone", "us", "FastStream", "-", "peer/msgbus"),
    ]
    if args.url:
        lines += [
            Line(f"rate, {label}", "msg/s", "FastStream", ">= 5" if batch and gather == 1
                 else "-", "msgbus/peer")
            for label, _confirm, batch, _fs_confirm, gather in RATE_LINES
        ]
        lines.append(Line("RPC round trip p50", "us", "raw pika", "<= 1.2", "msgbus/peer"))
    json_costs: list[float] = []
    for run in range(args.runs):  # interleaved, so both sides see the same machine load
        fs: tuple[float, list[float]] = (0.0, [])

        def test_broker() -> float:
            nonlocal fs
            fs = faststream_test_broker(n, rpc_n)
            return 0.0

        m_rate, m_rpc, t_rpc, _ = interleaved(
            lambda: msgbus_rate(mem_url, n, threaded=False),
            lambda: p50(msgbus_rpc(mem_url, rpc_n)),
            lambda: p50(transport_rpc(mem_url, rpc_n)),
            test_broker,
            run=run,
        )
        lines[0].add(m_rate, fs[0])
        lines[1].add(m_rpc, p50(fs[1]))
        lines[2].add(t_rpc, p50(fs[1]))
        json_costs.append(json_round_trip(rpc_n * 5))
        if args.url:
            rabbitmq_run(args.url, rn, rpc_n, lines[MEMORY_LINES:], run)
    print(f"# {args.runs} interleaved run(s): medians; the ratio's range over the runs in ()")
    print(f"# memory transport vs FastStream TestRabbitBroker ({n} messages, {rpc_n} RPCs)")
    for line in lines[:MEMORY_LINES]:
        print(line.show())
    print(f"# JSON alone, per RPC (the request and the reply each encoded and decoded): "
          f"{statistics.median(json_costs) * 1e6:.1f} us")
    if args.url:
        print(f"# RabbitMQ at {args.url.split('@')[-1]} ({rn} messages, {rpc_n} RPCs)")
        for line in lines[MEMORY_LINES:]:
            print(line.show())
    return 0


if __name__ == "__main__":
    sys.exit(main())
