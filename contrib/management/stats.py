"""Message counters and rates, as RabbitMQ's management plugin keeps them.

A broker listener counts what happens (publish, deliver, get, ack, redeliver, returns,
drops) for the whole broker, per exchange and per queue. Rates come from samples: every
``interval`` seconds of the broker's clock (RabbitMQ's ``collect_statistics_interval`` is
5 s) a sample of every counter and of the queue depths is kept, and a ``*_details.rate``
is the change between the last two samples divided by the time between them — what
RabbitMQ shows in ``basic`` rates mode. Samples are taken when someone asks (a request),
so a broker on a manual clock gives exact, repeatable rates.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

from transports.memory import Broker, BrokerEvent

__all__ = ["GLOBAL", "Sample", "Stats"]

#: The key of the broker-wide counters (exchanges and queues are ``(kind, vhost, name)``).
GLOBAL = ("broker", "", "")
Key = tuple[str, str, str]
#: How many samples are kept (RabbitMQ's basic retention keeps 10 minutes of 5 s samples).
HISTORY = 120


@dataclass(frozen=True, slots=True)
class Sample:
    """Every counter, and every queue's depth, at one moment of the broker's clock."""

    at: float
    counts: Mapping[Key, Mapping[str, int]]


class Stats:
    """Counts ``broker``'s events; call :meth:`start` to listen, :meth:`stop` to stop."""

    def __init__(self, broker: Broker, interval: float = 5.0) -> None:
        if not interval > 0:
            raise ValueError(f"the statistics interval must be above 0 seconds, "
                             f"got {interval!r}")
        self.broker = broker
        self.interval = interval
        self._lock = threading.Lock()
        self._counts: dict[Key, Counter[str]] = {GLOBAL: Counter()}
        self._unroutable: Key | None = None
        self.samples: deque[Sample] = deque(maxlen=HISTORY)

    def start(self) -> None:
        self.broker.add_listener(self._on_event)
        self._sample(self.broker.clock.monotonic())

    def stop(self) -> None:
        self.broker.remove_listener(self._on_event)

    # -- counting ---------------------------------------------------------------------

    def _add(self, key: Key, name: str, n: int = 1) -> None:
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = Counter()
        counter[name] += n

    def _on_event(self, event: BrokerEvent) -> None:
        with self._lock:
            self._count(event)

    def _count(self, event: BrokerEvent) -> None:
        kind, vhost = event.kind, event.vhost
        if kind == "published":
            self._add(GLOBAL, "publish")
            self._add(("exchange", vhost, event.exchange), "publish_in")
        elif kind == "routed":
            exchange = ("exchange", vhost, event.exchange)
            if event.queues:
                self._add(exchange, "publish_out")
                for queue in event.queues:
                    self._add(("queue", vhost, queue), "publish")
            else:
                self._add(GLOBAL, "drop_unroutable")
                self._unroutable = exchange
            return
        elif kind == "returned" and self._unroutable is not None:
            self._add(GLOBAL, "drop_unroutable", -1)
            self._add(GLOBAL, "return_unroutable")
        elif kind == "delivered":
            target: Key = ("queue", vhost, event.queue)
            what = "deliver" if event.consumer_tag else "get"
            for key in (GLOBAL, target):
                self._add(key, what)
                self._add(key, "deliver_get")
                if event.redelivered:
                    self._add(key, "redeliver")
        elif kind == "acked":
            self._add(GLOBAL, "ack")
            self._add(("queue", vhost, event.queue), "ack")
        self._unroutable = None

    # -- reading ----------------------------------------------------------------------

    def counts(self, key: Key) -> dict[str, int]:
        with self._lock:
            return dict(self._counts.get(key, ()))

    def _sample(self, now: float) -> None:
        depths: dict[Key, Counter[str]] = {}
        ready = unacked = 0
        for vhost in self.broker.vhosts():
            for queue in self.broker.queues(vhost):
                depths["queue-depth", vhost, queue.name] = Counter(
                    messages=queue.messages, messages_ready=queue.messages_ready,
                    messages_unacknowledged=queue.messages_unacknowledged)
                ready += queue.messages_ready
                unacked += queue.messages_unacknowledged
        depths["queue-depth", "", ""] = Counter(
            messages=ready + unacked, messages_ready=ready, messages_unacknowledged=unacked)
        with self._lock:
            counts = {key: dict(counter) for key, counter in self._counts.items()}
        counts.update((key, dict(counter)) for key, counter in depths.items())
        self.samples.append(Sample(now, counts))

    def refresh(self) -> None:
        """Take a sample if ``interval`` has passed on the broker's clock since the last."""
        now = self.broker.clock.monotonic()
        if not self.samples or now - self.samples[-1].at >= self.interval:
            self._sample(now)

    def rate(self, key: Key, name: str) -> float:
        """The change of counter ``name`` of ``key`` per second between the last two
        samples (0.0 before there are two)."""
        if len(self.samples) < 2:
            return 0.0
        before, last = self.samples[-2], self.samples[-1]
        elapsed = last.at - before.at
        if elapsed <= 0:
            return 0.0
        change = last.counts.get(key, {}).get(name, 0) - before.counts.get(key, {}).get(name, 0)
        return round(change / elapsed, 1)

    def history(self, key: Key, names: tuple[str, ...]) -> list[dict[str, float]]:
        """Per-second rates of ``names`` between consecutive samples, oldest first: what
        the page's chart draws."""
        points: list[dict[str, float]] = []
        samples = list(self.samples)
        for before, last in itertools.pairwise(samples):
            elapsed = last.at - before.at
            point: dict[str, float] = {"at": last.at}
            for name in names:
                change = (last.counts.get(key, {}).get(name, 0)
                          - before.counts.get(key, {}).get(name, 0))
                point[name] = round(change / elapsed, 2) if elapsed > 0 else 0.0
            points.append(point)
        return points

    def message_stats(self, key: Key) -> dict[str, object]:
        """RabbitMQ's ``message_stats`` object: each counter and its ``_details.rate``."""
        result: dict[str, object] = {}
        for name, value in sorted(self.counts(key).items()):
            result[name] = value
            result[f"{name}_details"] = {"rate": self.rate(key, name)}
        return result

    def depth_details(self, vhost: str, queue: str) -> dict[str, object]:
        """``messages_details``, ``messages_ready_details``, ... of one queue (``queue`` ""
        with ``vhost`` "": the totals of every queue)."""
        key = ("queue-depth", vhost, queue)
        return {f"{name}_details": {"rate": self.rate(key, name)}
                for name in ("messages", "messages_ready", "messages_unacknowledged")}
