"""msgbus's memory broker against kombu's ``memory://`` transport, side by side in one run.

Publish N messages with 100-byte bodies, consume them, ack each one:

(a) through msgbus's ``Transport`` API (``transports.memory.MemoryTransport``),
(b) through the pika drop-in (``contrib.pika_compat.BlockingConnection``),
(c) through kombu's memory transport (``Producer`` / ``Consumer`` / ``drain_events``), once
    with its defaults and once at its best: ``transport_options={"polling_interval": 0}``
    (no sleep between polls of an empty queue) and a consumer prefetch of 1,000. Ratios
    are given against both; the targets apply to kombu at its best.

Also: what publishing to a topic exchange costs with 10,000 bindings against 10, and the
bytes of memory (tracemalloc) a queued 100-byte message costs beyond its body. Each timing
of the contenders is the median of ``--rounds`` runs, interleaved so that load on the
machine hits all alike; a ratio is the median of the per-run ratios.

    python -m bench.memory_vs_kombu [-n 20000] [--rounds 7]

Needs kombu (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import tracemalloc
from collections.abc import Callable

from msgbus.values import Delivery
from transports.memory import Broker, MemoryTransport

BODY = b"x" * 100
_unique = itertools.count()


def best(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def transport_api(n: int) -> float:
    transport = MemoryTransport(Broker())
    transport.declare_queue("bench")
    received = 0

    def on_message(delivery: Delivery) -> None:
        nonlocal received
        received += 1
        transport.ack(delivery.delivery_tag)

    start = time.perf_counter()
    for _ in range(n):
        transport.publish("", "bench", BODY)
    transport.consume("bench", on_message, prefetch=0)
    while received < n:
        transport.process_events(1.0)
    elapsed = time.perf_counter() - start
    transport.close()
    return elapsed


def pika_facade(n: int) -> float:
    from contrib.pika_compat import BlockingConnection

    connection = BlockingConnection(broker=Broker())
    channel = connection.channel()
    channel.queue_declare("bench")
    received = 0

    def on_message(ch: object, method: object, properties: object, body: bytes) -> None:
        nonlocal received
        received += 1
        channel.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]

    start = time.perf_counter()
    for _ in range(n):
        channel.basic_publish("", "bench", BODY)
    channel.basic_consume("bench", on_message)
    while received < n:
        connection.process_data_events(1.0)
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


#: kombu at its best: no sleep between polls of an empty queue, a consumer prefetch of 1,000
KOMBU_BEST_TRANSPORT_OPTIONS = {"polling_interval": 0}
KOMBU_BEST_PREFETCH = 1000


def kombu_memory(n: int, *, at_best: bool = False) -> float:
    import kombu

    name = f"bench-{next(_unique)}"
    options = {"transport_options": KOMBU_BEST_TRANSPORT_OPTIONS} if at_best else {}
    prefetch = KOMBU_BEST_PREFETCH if at_best else None
    with kombu.Connection("memory://", **options) as connection:
        queue = kombu.Queue(name, kombu.Exchange(name, "direct"), routing_key=name)
        producer = kombu.Producer(connection.channel())
        received = 0

        def on_message(body: object, message: kombu.Message) -> None:
            nonlocal received
            received += 1
            message.ack()

        start = time.perf_counter()
        for _ in range(n):
            producer.publish(BODY, exchange=queue.exchange, routing_key=name, declare=[queue],
                             serializer=None, content_type="application/octet-stream",
                             content_encoding="binary")
        with kombu.Consumer(connection.channel(), [queue], callbacks=[on_message],
                            prefetch_count=prefetch):
            while received < n:
                connection.drain_events(timeout=1.0)
        return time.perf_counter() - start


def topic_publish_cost(bindings: int, publishes: int) -> float:
    """Seconds per publish to a topic exchange with ``bindings`` distinct patterns."""
    transport = MemoryTransport(Broker())
    transport.declare_exchange("events", "topic")
    transport.declare_queue("sink")
    for i in range(bindings):
        transport.bind_queue("sink", "events", f"svc{i}.*.created")
    keys = [f"svc{i % bindings}.eu.created" for i in range(publishes)]
    start = time.perf_counter()
    for key in keys:
        transport.publish("events", key, BODY)
    elapsed = time.perf_counter() - start
    transport.purge_queue("sink")
    transport.close()
    return elapsed / publishes


def bytes_per_queued_message(n: int) -> float:
    """tracemalloc bytes per queued 100-byte message, beyond the body itself (the bodies are
    allocated before measuring)."""
    transport = MemoryTransport(Broker())
    transport.declare_queue("held")
    bodies = [bytes([i % 256]) * 100 for i in range(n)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for body in bodies:
        transport.publish("", "held", body)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    transport.close()
    return (after - before) / n


def interleaved(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each contender once per round, rotating who goes first, so that changing load
    on the machine hits them alike; the seconds of every run, by contender."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runs[name]())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000, help="messages per run")
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    n, rounds = options.n, options.rounds

    kombu_memory(n // 10), kombu_memory(n // 10, at_best=True)  # warm up
    transport_api(n // 10), pika_facade(n // 10)
    times = interleaved(rounds, {
        "kombu": lambda: kombu_memory(n),
        "kombu best": lambda: kombu_memory(n, at_best=True),
        "api": lambda: transport_api(n),
        "pika": lambda: pika_facade(n),
    })

    def rate(name: str) -> str:
        return f"{n / statistics.median(times[name]):>10,.0f} msgs/s"

    def ratio(name: str, peer: str) -> str:
        ratios = sorted(k / m for k, m in zip(times[peer], times[name], strict=True))
        return f"{statistics.median(ratios):5.1f}x (runs {ratios[0]:.1f}-{ratios[-1]:.1f})"

    print(f"publish {n} -> consume -> ack, 100-byte bodies "
          f"(medians of {rounds} interleaved runs; ratios per run)")
    print(f"  kombu memory://, defaults            {rate('kombu')}")
    print(f"  kombu memory://, at its best         {rate('kombu best')}   "
          f"{ratio('kombu best', 'kombu')} kombu's defaults  (polling_interval 0, "
          f"prefetch {KOMBU_BEST_PREFETCH:,})")
    for name, label, target in (("api", "msgbus Transport API", 10),
                                ("pika", "msgbus pika facade  ", 5)):
        print(f"  {label}                 {rate(name)}   {ratio(name, 'kombu best')} kombu "
              f"at its best (target >= {target}x), {ratio(name, 'kombu')} its defaults")

    publishes = max(2000, n // 4)
    few = best(rounds, lambda: topic_publish_cost(10, publishes))
    many = best(rounds, lambda: topic_publish_cost(10_000, publishes))
    print("topic exchange publish cost (best of the runs)")
    print(f"  10 bindings              {few * 1e6:>10.2f} us/publish")
    print(f"  10,000 bindings          {many * 1e6:>10.2f} us/publish   {many / few:5.2f}x"
          "  (target <= 2x)")

    overhead = bytes_per_queued_message(n)
    print(f"memory per queued 100-byte message, beyond the body: {overhead:,.0f} bytes"
          "  (target <= 500)")


if __name__ == "__main__":
    main()
