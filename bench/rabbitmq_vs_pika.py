"""msgbus's RabbitMQ transport against hand-written pika ``BlockingConnection`` code.

Both run in one process against the same server, alternately, with 100-byte bodies:
publishing without and with publisher confirms, consuming with manual acks at prefetch
100 and 1000, and an RPC round trip over direct reply-to (p50/p99, no confirms on either
side). Short runs alternate between the two (``--rounds`` of each, swapping which goes
first), so a burst of load on the machine hits both alike. Each figure is the median over
the runs; the ratio is the median of the per-round ratios msgbus / raw pika (for latency:
raw / msgbus), so above 1 always means msgbus did better.

    python -m bench.rabbitmq_vs_pika --url amqp://guest:guest@localhost:5672/%2F

No server is started: pass the URL of one (default ``MSGBUS_TEST_AMQP_URL``, then
localhost). The queues it uses are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import pika

from msgbus.values import Delivery, Properties
from transports.rabbitmq import RabbitMQTransport

T = TypeVar("T")
BODY = b"x" * 100
REPLY_TO = "amq.rabbitmq.reply-to"


@dataclass
class Result:
    """One benchmark: the value of every round, for raw pika and for msgbus."""

    name: str
    raws: list[float]
    ours: list[float]
    unit: str
    higher_is_better: bool = True
    raw_cpu: list[float] | None = None
    our_cpu: list[float] | None = None

    @property
    def raw(self) -> float:
        return statistics.median(self.raws)

    @property
    def msgbus(self) -> float:
        return statistics.median(self.ours)

    @property
    def ratio(self) -> float:
        """The median over rounds of msgbus / raw (raw / msgbus for latencies)."""
        pairs = zip(self.raws, self.ours, strict=True)
        if self.higher_is_better:
            return statistics.median(ours / raw for raw, ours in pairs)
        return statistics.median(raw / ours for raw, ours in pairs)


@dataclass(frozen=True)
class Rate:
    """Messages per second (wall clock), and this process's CPU time per message."""

    per_second: float
    cpu_us: float


class Stopwatch:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def rate(self, count: int) -> Rate:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return Rate(count / wall, cpu / count * 1e6)


def _raw_connection(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url))


def _reset(url: str, queue: str) -> None:
    connection = _raw_connection(url)
    channel = connection.channel()
    channel.queue_declare(queue)
    channel.queue_purge(queue)
    connection.close()


def _fill(url: str, queue: str, count: int) -> None:
    """Put ``count`` messages in ``queue`` (untimed) and wait until they are all there."""
    _reset(url, queue)
    connection = _raw_connection(url)
    channel = connection.channel()
    for _ in range(count):
        channel.basic_publish("", queue, BODY)
    while channel.queue_declare(queue, passive=True).method.message_count < count:
        connection.sleep(0.05)
    connection.close()


# -- publishing -------------------------------------------------------------------------


def raw_publish(url: str, queue: str, count: int, confirms: bool) -> Rate:
    _reset(url, queue)
    connection = _raw_connection(url)
    channel = connection.channel()
    if confirms:
        channel.confirm_delivery()
    clock = Stopwatch()
    for _ in range(count):
        channel.basic_publish("", queue, BODY)
    rate = clock.rate(count)
    connection.close()
    return rate


def msgbus_publish(url: str, queue: str, count: int, confirms: bool) -> Rate:
    _reset(url, queue)
    transport = RabbitMQTransport.from_url(url, confirm_publishes=confirms)
    clock = Stopwatch()
    for _ in range(count):
        transport.publish("", queue, BODY)
    rate = clock.rate(count)
    transport.close()
    return rate


# -- consuming --------------------------------------------------------------------------


def raw_consume(url: str, queue: str, count: int, prefetch: int) -> Rate:
    _fill(url, queue, count)
    connection = _raw_connection(url)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    received = 0

    def on_message(ch: object, method: pika.spec.Basic.Deliver, _p: object, _b: bytes) -> None:
        nonlocal received
        received += 1
        channel.basic_ack(method.delivery_tag)

    clock = Stopwatch()
    channel.basic_consume(queue, on_message)
    while received < count:
        connection.process_data_events(time_limit=1.0)
    rate = clock.rate(count)
    connection.close()
    return rate


def msgbus_consume(url: str, queue: str, count: int, prefetch: int) -> Rate:
    _fill(url, queue, count)
    transport = RabbitMQTransport.from_url(url)
    received = 0

    def on_message(delivery: Delivery) -> None:
        nonlocal received
        received += 1
        transport.ack(delivery.delivery_tag)

    clock = Stopwatch()
    transport.consume(queue, on_message, prefetch=prefetch)
    while received < count:
        transport.process_events(1.0)
    rate = clock.rate(count)
    transport.close()
    return rate


# -- RPC round trip ---------------------------------------------------------------------


def raw_rpc(url: str, queue: str, count: int) -> list[float]:
    _reset(url, queue)
    client_connection, server_connection = _raw_connection(url), _raw_connection(url)
    client, server = client_connection.channel(), server_connection.channel()
    replies: list[bytes] = []
    requests: list[tuple[pika.BasicProperties, bytes]] = []
    client.basic_consume(REPLY_TO, lambda ch, m, p, b: replies.append(b), auto_ack=True)
    server.basic_consume(queue, lambda ch, m, p, b: requests.append((p, b)), auto_ack=True)
    timings = []
    for n in range(count):
        start = time.perf_counter()
        client.basic_publish(
            "", queue, BODY, pika.BasicProperties(reply_to=REPLY_TO, correlation_id=str(n))
        )
        while not requests:
            server_connection.process_data_events(time_limit=1.0)
        props, body = requests.pop()
        server.basic_publish(
            "", props.reply_to, body, pika.BasicProperties(correlation_id=props.correlation_id)
        )
        while not replies:
            client_connection.process_data_events(time_limit=1.0)
        replies.pop()
        timings.append(time.perf_counter() - start)
    client_connection.close()
    server_connection.close()
    return timings


def msgbus_rpc(url: str, queue: str, count: int) -> list[float]:
    _reset(url, queue)
    client = RabbitMQTransport.from_url(url, confirm_publishes=False)
    server = RabbitMQTransport.from_url(url, confirm_publishes=False)
    replies: list[Delivery] = []
    requests: list[Delivery] = []
    client.consume(REPLY_TO, replies.append, auto_ack=True)
    server.consume(queue, requests.append, auto_ack=True)
    timings = []
    for n in range(count):
        start = time.perf_counter()
        client.publish("", queue, BODY, Properties(reply_to=REPLY_TO, correlation_id=str(n)))
        while not requests:
            server.process_events(1.0)
        request = requests.pop()
        assert request.properties.reply_to is not None
        server.publish(
            "", request.properties.reply_to, request.body,
            Properties(correlation_id=request.properties.correlation_id),
        )
        while not replies:
            client.process_events(1.0)
        replies.pop()
        timings.append(time.perf_counter() - start)
    client.close()
    server.close()
    return timings


def _percentile(timings: list[float], fraction: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- the run ----------------------------------------------------------------------------


def _rounds(rounds: int, raw: Callable[[], T], ours: Callable[[], T]) -> tuple[list[T], list[T]]:
    """Run both ``rounds`` times, alternating which goes first, so load hits both alike."""
    raws, oursl = [], []
    for n in range(rounds):
        if n % 2:
            oursl.append(ours())
            raws.append(raw())
        else:
            raws.append(raw())
            oursl.append(ours())
    return raws, oursl


def _throughput(name: str, raws: list[Rate], ours: list[Rate]) -> Result:
    return Result(
        name, [r.per_second for r in raws], [r.per_second for r in ours], "msg/s",
        raw_cpu=[r.cpu_us for r in raws], our_cpu=[r.cpu_us for r in ours],
    )


def run(url: str, messages: int, confirmed: int, calls: int, rounds: int) -> list[Result]:
    queue = f"bench.rabbitmq_vs_pika.{os.getpid()}"
    results = []
    try:
        for label, count, confirms in (("no confirms", messages, False),
                                       ("confirms", confirmed, True)):
            raws, ours = _rounds(rounds, partial(raw_publish, url, queue, count, confirms),
                                 partial(msgbus_publish, url, queue, count, confirms))
            results.append(_throughput(f"publish, {label}", raws, ours))
        for prefetch in (100, 1000):
            raws, ours = _rounds(rounds, partial(raw_consume, url, queue, messages, prefetch),
                                 partial(msgbus_consume, url, queue, messages, prefetch))
            results.append(_throughput(f"consume + ack, prefetch {prefetch}", raws, ours))
        raw_runs, our_runs = _rounds(rounds, partial(raw_rpc, url, queue, calls),
                                     partial(msgbus_rpc, url, queue, calls))
        for label, fraction in (("p50", 0.5), ("p99", 0.99)):
            results.append(Result(
                f"RPC round trip {label}",
                [_percentile(r, fraction) * 1e6 for r in raw_runs],
                [_percentile(r, fraction) * 1e6 for r in our_runs],
                "µs", higher_is_better=False,
            ))
        results.append(Result(
            "RPC calls/s", [1 / statistics.fmean(r) for r in raw_runs],
            [1 / statistics.fmean(r) for r in our_runs], "calls/s",
        ))
    finally:
        connection = _raw_connection(url)
        connection.channel().queue_delete(queue)
        connection.close()
    return results


def render(results: list[Result]) -> str:
    lines = [
        "| benchmark | raw pika | msgbus | unit | msgbus / raw pika "
        "| client CPU µs/msg, raw pika → msgbus |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for r in results:
        cpu = ""
        if r.raw_cpu and r.our_cpu:
            cpu = f"{statistics.median(r.raw_cpu):.1f} → {statistics.median(r.our_cpu):.1f}"
        lines.append(
            f"| {r.name} | {r.raw:,.0f} | {r.msgbus:,.0f} | {r.unit} | {r.ratio:.2f} | {cpu} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url",
        default=os.environ.get("MSGBUS_TEST_AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"),
        help="the RabbitMQ server to run against (default: MSGBUS_TEST_AMQP_URL or localhost)",
    )
    parser.add_argument("--messages", type=int, default=5_000,
                        help="messages per publish (no confirms) and consume run")
    parser.add_argument("--confirmed", type=int, default=2_000,
                        help="messages per publish-with-confirms run")
    parser.add_argument("--calls", type=int, default=500, help="RPC calls per run")
    parser.add_argument("--rounds", type=int, default=11,
                        help="alternating runs of each; medians are reported")
    args = parser.parse_args(argv)
    results = run(args.url, args.messages, args.confirmed, args.calls, args.rounds)
    print(render(results))
    print(f"\n{args.messages:,} messages, {args.confirmed:,} confirmed, {args.calls:,} RPC calls,"
          f" {len(BODY)}-byte bodies; medians of {args.rounds} alternating runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
