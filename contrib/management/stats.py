"""Message counters and rates, as RabbitMQ's management plugin keeps them.

A broker listener counts what happens for the whole broker, per vhost, per channel, per
exchange and per queue, with RabbitMQ 3.10's names and in its places:

- the broker, a vhost and a channel count what channels did: ``publish``, ``confirm``
  (basic.acks sent back; not nacks), ``return_unroutable``, ``drop_unroutable``, and
  ``get``, ``get_no_ack``, ``deliver``, ``deliver_no_ack``, ``deliver_get`` (the four
  together), ``get_empty``, ``redeliver``, ``ack``. As RabbitMQ does, each half is shown
  whole, zeros included, once one of its counters moved;
- a queue counts the publishes routed to it (refused ones too) and the second half;
- an exchange counts ``publish_in`` (publishes to it) and ``publish_out`` (one per queue
  it routed a publish to).

A channel's counters go with the channel; the others stay. Rates come from samples: every
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

__all__ = ["GLOBAL", "Sample", "Stats", "channel_key"]

#: The key of the broker-wide counters (exchanges and queues are ``(kind, vhost, name)``,
#: a vhost ``("vhost", name, "")``, a channel see :func:`channel_key`).
GLOBAL = ("broker", "", "")
Key = tuple[str, str, str]
#: What the queue name of a direct reply (not a queue) starts with.
REPLY_TO = "amq.rabbitmq.reply-to."
#: What a channel publishes, and what it receives and acknowledges: RabbitMQ shows each
#: group whole once one of its counters moved (a queue shows the second one).
PUBLISHING = ("publish", "confirm", "return_unroutable", "drop_unroutable")
RECEIVING = ("get", "get_no_ack", "deliver", "deliver_no_ack", "deliver_get", "get_empty",
             "redeliver", "ack")
GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "broker": (PUBLISHING, RECEIVING), "vhost": (PUBLISHING, RECEIVING),
    "channel": (PUBLISHING, RECEIVING), "queue": (RECEIVING,)}


#: How many samples are kept (RabbitMQ's basic retention keeps 10 minutes of 5 s samples).
HISTORY = 120


def channel_key(connection: int, number: int) -> Key:
    """The key of the counters of channel ``number`` of the broker's connection
    ``connection``."""
    return ("channel", str(connection), str(number))


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
        # where the last unroutable publish was counted as dropped, until the next event
        # says whether it was returned instead
        self._unroutable: tuple[Key, ...] | None = None
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

    def _actors(self, event: BrokerEvent) -> tuple[Key, ...]:
        """Where what a channel did is counted: the broker, the vhost, the channel."""
        vhost = ("vhost", event.vhost, "")
        if not event.connection:
            return GLOBAL, vhost
        return GLOBAL, vhost, channel_key(event.connection, event.channel)

    def _count(self, event: BrokerEvent) -> None:
        kind, vhost = event.kind, event.vhost
        if kind == "published":
            for key in self._actors(event):
                self._add(key, "publish")
            self._add(("exchange", vhost, event.exchange), "publish_in")
        elif kind == "routed":
            # RabbitMQ counts a direct reply as a publish that reached no queue
            queues = [q for q in event.queues if not q.startswith(REPLY_TO)]
            if queues:
                self._add(("exchange", vhost, event.exchange), "publish_out", len(queues))
                for queue in queues:
                    self._add(("queue", vhost, queue), "publish")
            else:
                self._unroutable = self._actors(event)
                for key in self._unroutable:
                    self._add(key, "drop_unroutable")
                return
        elif kind == "returned":
            for key in self._unroutable or self._actors(event):
                if self._unroutable is not None:
                    self._add(key, "drop_unroutable", -1)
                self._add(key, "return_unroutable")
        elif kind == "confirmed":
            if event.reason == "ack":  # RabbitMQ counts the basic.acks, not the nacks
                for key in self._actors(event):
                    self._add(key, "confirm")
        elif kind == "delivered":
            if event.queue.startswith(REPLY_TO):  # not counted by RabbitMQ
                return
            if event.consumer_tag:
                what = "deliver_no_ack" if event.no_ack else "deliver"
            else:
                what = "get_no_ack" if event.no_ack else "get"
            for key in (*self._actors(event), ("queue", vhost, event.queue)):
                self._add(key, what)
                self._add(key, "deliver_get")
                if event.redelivered:
                    self._add(key, "redeliver")
        elif kind == "get-empty":
            for key in (*self._actors(event), ("queue", vhost, event.queue)):
                self._add(key, "get_empty")
        elif kind == "acked":
            for key in (*self._actors(event), ("queue", vhost, event.queue)):
                self._add(key, "ack")
        elif kind == "channel-closed":
            self._counts.pop(channel_key(event.connection, event.channel), None)
        self._unroutable = None

    def forget_closed_channels(self) -> None:
        """Drop the counters of channels that are gone (a broker restart closes them
        without a ``channel-closed`` event)."""
        with self._lock:  # no event is counted meanwhile (listeners run outside the
            # broker's lock, so taking it here cannot deadlock)
            open_channels = {channel_key(ch.connection, ch.number)
                             for ch in self.broker.channels()}
            for key in [key for key in self._counts
                        if key[0] == "channel" and key not in open_channels]:
                del self._counts[key]

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
        self.forget_closed_channels()
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
        """RabbitMQ's ``message_stats`` object: each counter and its ``_details.rate``
        (``{}`` when nothing was counted), each half shown whole as RabbitMQ shows it."""
        counts = self.counts(key)
        groups = GROUPS.get(key[0], ())
        for group in groups:
            if not counts.keys().isdisjoint(group):
                for name in group:
                    counts.setdefault(name, 0)
        result: dict[str, object] = {}
        for name, value in sorted(counts.items()):
            result[name] = value
            result[f"{name}_details"] = {"rate": self.rate(key, name)}
        return result

    def depth_details(self, vhost: str, queue: str) -> dict[str, object]:
        """``messages_details``, ``messages_ready_details``, ... of one queue (``queue`` ""
        with ``vhost`` "": the totals of every queue)."""
        key = ("queue-depth", vhost, queue)
        return {f"{name}_details": {"rate": self.rate(key, name)}
                for name in ("messages", "messages_ready", "messages_unacknowledged")}
