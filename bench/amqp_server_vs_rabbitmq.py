"""The embedded AMQP server (``msgbus serve``) against a RabbitMQ node, through the same
client programs, side by side in one run.

Throughput and latency, with 100-byte bodies, each client at its best settings: pika
``BlockingConnection`` publishing without confirms, pika ``SelectConnection`` publishing
with confirms pipelined (a window of 1,000 unconfirmed), aio-pika publishing without and
with confirms (1,000 awaited together), consume + ack at prefetch 1,000 (pika and aio-pika),
and the p50 of an RPC round trip over direct reply-to (pika and aio-pika, the responder on
its own connection). A publish run ends when the server holds every message (a passive
declare on the publishing channel says so), not when the client has written them.

Both servers run in their own processes beside this one: the embedded server as
``python -m msgbus serve``, RabbitMQ as a throwaway node started here (on free ports, data
under build/, stopped at the end) unless ``--url`` names one. Rounds alternate which server
goes first, so a burst of load on the 2-core machine hits both alike; each figure is the
median over rounds, each ratio the median of the per-round ratios embedded / RabbitMQ (for
latency RabbitMQ / embedded), so above 1 always means the embedded server did better.

Then readiness and memory: the time from starting a server to a first successful pika
connection (the embedded server as a fresh ``python -m msgbus serve`` process, and
``AmqpServer`` started inside a process that has already imported it, as a test fixture
does; a RabbitMQ node from ``rabbitmq-server``), and the resident memory a server grows by
per idle connection (pika connections with one channel each, held open).

    build/venv/bin/python -m bench.amqp_server_vs_rabbitmq [--messages 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection

from bench.amqp_servers import (
    inprocess_ready,
    memory_per_connection,
    start_embedded,
    start_rabbitmq_node,
)

BODY = b"x" * 100
REPLY_TO = "amq.rabbitmq.reply-to"
WINDOW = 1_000  # unconfirmed publishes in flight, and consumer prefetch


# -- the client programs ----------------------------------------------------------------


@contextmanager
def blocking(url: str) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def fresh_queue(url: str, queue: str, fill: int = 0) -> None:
    """Declare ``queue`` empty, then put ``fill`` messages in it (untimed)."""
    with blocking(url) as channel:
        channel.queue_declare(queue)
        channel.queue_purge(queue)
        for _ in range(fill):
            channel.basic_publish("", queue, BODY)
        wait_held(lambda: channel.queue_declare(queue, passive=True).method.message_count,
                  queue, fill)


def _check_deadline(started: float, queue: str, held: int, count: int) -> None:
    if time.perf_counter() - started > 60:
        raise RuntimeError(f"{queue} holds {held} messages after 60 s, not {count}")


def wait_held(message_count: Callable[[], int], queue: str, count: int) -> None:
    """Ask the server for the queue's depth until it holds ``count`` messages: a publish
    is not done until the server has it (a queue's count may lag the publishing channel
    by a few messages on RabbitMQ)."""
    started = time.perf_counter()
    while (held := message_count()) < count:
        _check_deadline(started, queue, held, count)


def pika_publish(url: str, queue: str, count: int) -> float:
    fresh_queue(url, queue)
    with blocking(url) as channel:
        started = time.perf_counter()
        for _ in range(count):
            channel.basic_publish("", queue, BODY)
        wait_held(lambda: channel.queue_declare(queue, passive=True).method.message_count,
                  queue, count)
        return count / (time.perf_counter() - started)


def pika_publish_confirmed(url: str, queue: str, count: int) -> float:
    """SelectConnection, confirms pipelined: up to WINDOW unconfirmed at a time."""
    fresh_queue(url, queue)
    state = {"sent": 0, "confirmed": 0, "started": 0.0, "elapsed": 0.0}
    channel: Any = None

    def top_up() -> None:
        while state["sent"] < count and state["sent"] - state["confirmed"] < WINDOW:
            channel.basic_publish("", queue, BODY)
            state["sent"] += 1

    def on_confirm(frame: Any) -> None:
        method = frame.method
        if method.NAME != "Basic.Ack":
            raise RuntimeError(f"the server answered a publish with {method.NAME}")
        tag = method.delivery_tag
        state["confirmed"] = tag if method.multiple else max(state["confirmed"], tag)
        if state["confirmed"] >= count:
            state["elapsed"] = time.perf_counter() - state["started"]
            connection.close()
        else:
            top_up()

    def on_selected(_frame: Any) -> None:
        state["started"] = time.perf_counter()
        top_up()

    def on_channel(opened: Any) -> None:
        nonlocal channel
        channel = opened
        channel.confirm_delivery(on_confirm, callback=on_selected)

    connection = SelectConnection(
        pika.URLParameters(url), on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda *_: connection.ioloop.stop())
    try:
        connection.ioloop.start()
    finally:
        connection.ioloop.close()
    if state["confirmed"] < count:
        raise RuntimeError(f"only {state['confirmed']} of {count} publishes were confirmed")
    return count / state["elapsed"]


def pika_consume(url: str, queue: str, count: int) -> float:
    fresh_queue(url, queue, fill=count)
    with blocking(url) as channel:
        channel.basic_qos(prefetch_count=WINDOW)
        received = 0

        def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
            nonlocal received
            received += 1
            ch.basic_ack(method.delivery_tag)
            if received == count:
                ch.stop_consuming()

        started = time.perf_counter()
        channel.basic_consume(queue, on_message)
        channel.start_consuming()
        return count / (time.perf_counter() - started)


def pika_rpc(url: str, queue: str, count: int) -> float:
    """p50 in µs: a client publishes a request with reply_to direct reply-to; a responder
    thread (its own connection) answers it."""
    fresh_queue(url, queue)
    ready, stop = threading.Event(), threading.Event()

    def respond() -> None:
        with blocking(url) as channel:
            def on_request(ch: Any, _method: Any, props: Any, body: bytes) -> None:
                ch.basic_publish("", props.reply_to, body,
                                 pika.BasicProperties(correlation_id=props.correlation_id))

            channel.basic_consume(queue, on_request, auto_ack=True)
            ready.set()
            while not stop.is_set():
                channel.connection.process_data_events(time_limit=0.05)

    responder = threading.Thread(target=respond, daemon=True)
    responder.start()
    ready.wait(10)
    timings = []
    with blocking(url) as channel:
        replies: list[bytes] = []
        channel.basic_consume(REPLY_TO, lambda *a: replies.append(a[3]), auto_ack=True)
        for n in range(count):
            started = time.perf_counter()
            channel.basic_publish("", queue, BODY, pika.BasicProperties(
                reply_to=REPLY_TO, correlation_id=str(n)))
            while not replies:
                channel.connection.process_data_events(time_limit=None)
            timings.append(time.perf_counter() - started)
            replies.clear()
    stop.set()
    responder.join(10)
    return statistics.median(timings) * 1e6


def _aio(coroutine: Any) -> float:
    result: float = asyncio.run(asyncio.wait_for(coroutine, 600))
    return result


async def _aio_publish(url: str, queue: str, count: int, confirms: bool) -> float:
    fresh_queue(url, queue)
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=confirms)
        exchange = channel.default_exchange
        started = time.perf_counter()
        if confirms:
            for first in range(0, count, WINDOW):
                await asyncio.gather(*(
                    exchange.publish(aio_pika.Message(BODY), queue, mandatory=False)
                    for _ in range(min(WINDOW, count - first))))
        else:
            for _ in range(count):
                await exchange.publish(aio_pika.Message(BODY), queue, mandatory=False)
        while True:
            declared = await channel.declare_queue(queue, passive=True)
            held = declared.declaration_result.message_count
            if held >= count:
                break
            _check_deadline(started, queue, held, count)
        return count / (time.perf_counter() - started)
    finally:
        await connection.close()


def aio_publish(url: str, queue: str, count: int) -> float:
    return _aio(_aio_publish(url, queue, count, confirms=False))


def aio_publish_confirmed(url: str, queue: str, count: int) -> float:
    return _aio(_aio_publish(url, queue, count, confirms=True))


async def _aio_consume(url: str, queue: str, count: int) -> float:
    fresh_queue(url, queue, fill=count)
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=WINDOW)
        source = await channel.declare_queue(queue, passive=True)
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == count:
                done.set()

        started = time.perf_counter()
        await source.consume(on_message)
        await done.wait()
        return count / (time.perf_counter() - started)
    finally:
        await connection.close()


def aio_consume(url: str, queue: str, count: int) -> float:
    return _aio(_aio_consume(url, queue, count))


async def _aio_rpc(url: str, queue: str, count: int) -> float:
    server, client = await aio_pika.connect(url), await aio_pika.connect(url)
    try:
        server_channel = await server.channel(publisher_confirms=False)
        requests = await server_channel.declare_queue(queue)
        await requests.purge()

        async def on_request(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await server_channel.default_exchange.publish(aio_pika.Message(
                message.body, correlation_id=message.correlation_id), str(message.reply_to),
                mandatory=False)

        await requests.consume(on_request, no_ack=True)
        channel = await client.channel(publisher_confirms=False)
        replies = await channel.declare_queue(REPLY_TO, passive=True)
        waiting: asyncio.Future[None] | None = None

        async def on_reply(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

        await replies.consume(on_reply, no_ack=True)
        timings = []
        for n in range(count):
            waiting = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await channel.default_exchange.publish(aio_pika.Message(
                BODY, correlation_id=str(n), reply_to=REPLY_TO), queue, mandatory=False)
            await waiting
            timings.append(time.perf_counter() - started)
        return statistics.median(timings) * 1e6
    finally:
        await client.close()
        await server.close()


def aio_rpc(url: str, queue: str, count: int) -> float:
    return _aio(_aio_rpc(url, queue, count))


@dataclass(frozen=True)
class Program:
    name: str
    run: Callable[[str, str, int], float]
    unit: str
    higher_is_better: bool
    rpc: bool = False


PROGRAMS = [
    Program("pika publish, no confirms", pika_publish, "msg/s", True),
    Program("pika publish, confirms (pipelined)", pika_publish_confirmed, "msg/s", True),
    Program("pika consume + ack", pika_consume, "msg/s", True),
    Program("aio-pika publish, no confirms", aio_publish, "msg/s", True),
    Program("aio-pika publish, confirms (pipelined)", aio_publish_confirmed, "msg/s", True),
    Program("aio-pika consume + ack", aio_consume, "msg/s", True),
    Program("pika RPC p50", pika_rpc, "µs", False, rpc=True),
    Program("aio-pika RPC p50", aio_rpc, "µs", False, rpc=True),
]


# -- running and reporting --------------------------------------------------------------


@dataclass
class Line:
    name: str
    unit: str
    higher_is_better: bool
    rabbitmq: list[float] = field(default_factory=list)
    embedded: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        pairs = zip(self.rabbitmq, self.embedded, strict=True)
        if self.higher_is_better:
            return [ours / theirs for theirs, ours in pairs]
        return [theirs / ours for theirs, ours in pairs]


def _span(values: list[float], fmt: str = ",.0f") -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}"


def render(lines: list[Line]) -> str:
    out = ["| measure | RabbitMQ (range) | embedded (range) | embedded vs RabbitMQ (range) |",
           "|---|---:|---:|---:|"]
    for line in lines:
        ratios = line.ratios()
        out.append(
            f"| {line.name}, {line.unit} | {statistics.median(line.rabbitmq):,.0f} "
            f"({_span(line.rabbitmq)}) | {statistics.median(line.embedded):,.0f} "
            f"({_span(line.embedded)}) | **{statistics.median(ratios):.2f}x** "
            f"({_span(ratios, '.2f')}) |")
    return "\n".join(out)


def run_clients(servers: dict[str, str], messages: int, calls: int, rounds: int,
                only: list[str]) -> list[Line]:
    programs = [p for p in PROGRAMS if not only or any(o in p.name for o in only)]
    lines = [Line(p.name, p.unit, p.higher_is_better) for p in programs]
    queue = f"bench-amqp-server-{os.getpid()}"
    for number in range(rounds):
        order = ["rabbitmq", "embedded"] if number % 2 == 0 else ["embedded", "rabbitmq"]
        for program, line in zip(programs, lines, strict=True):
            for name in order:
                value = program.run(servers[name], queue, calls if program.rpc else messages)
                getattr(line, name).append(value)
        print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    for url in servers.values():
        with blocking(url) as channel:
            channel.queue_delete(queue)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="an existing RabbitMQ to run the clients against "
                        "(default: the throwaway node started here)")
    parser.add_argument("--embedded-url", help="an embedded server already running (default: "
                        "a fresh `python -m msgbus serve` process)")
    parser.add_argument("--messages", type=int, default=10_000,
                        help="messages per publish and consume run")
    parser.add_argument("--calls", type=int, default=1_000, help="RPC calls per run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--only", action="append", default=[],
                        help="run only the client programs whose name contains this")
    parser.add_argument("--connections", type=int, default=500,
                        help="idle connections for the memory measure (0: skip it)")
    parser.add_argument("--starts", type=int, default=5,
                        help="fresh embedded servers timed to their first connection")
    args = parser.parse_args(argv)

    node = None if args.url else start_rabbitmq_node()
    embedded = None if args.embedded_url else start_embedded()
    memory: list[str] = []
    try:
        if args.connections:  # first, while both servers are fresh
            for server in (node, embedded):
                if server is not None:
                    kb = memory_per_connection(server, args.connections)
                    memory.append(f"{server.name}: {kb:,.1f} KB resident per idle connection "
                                  f"({args.connections} pika connections, one channel each, "
                                  f"on a fresh server)")
        servers = {"rabbitmq": args.url or (node.url if node else ""),
                   "embedded": args.embedded_url or (embedded.url if embedded else "")}
        lines = run_clients(servers, args.messages, args.calls, args.rounds, args.only)
        print(render(lines))
        print(f"\n{args.messages:,} messages a run, {args.calls:,} RPC calls, "
              f"{len(BODY)}-byte bodies, {args.rounds} alternating rounds; medians")
        print("\n".join(memory))
    finally:
        if embedded is not None:
            embedded.stop()
        if node is not None:
            node.stop()

    if node is not None:
        print(f"rabbitmq: node start to first connection {node.ready_s * 1000:,.0f} ms")
    if args.starts and not args.embedded_url:
        fresh = []
        for _ in range(args.starts):
            server = start_embedded()
            fresh.append(server.ready_s * 1000)
            server.stop()
        inside = [inprocess_ready() * 1000 for _ in range(args.starts)]
        print(f"embedded: `python -m msgbus serve` start to first connection "
              f"{statistics.median(fresh):,.0f} ms ({_span(fresh)}); AmqpServer(Broker()) in "
              f"a process that imported it {statistics.median(inside):,.1f} ms "
              f"({_span(inside, ',.1f')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
