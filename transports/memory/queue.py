"""A queue's message store: FIFO per priority level, requeue to the original position,
expiry at the head only, length limits. Sans-IO: the core drives it."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from msgbus.values import Properties

if TYPE_CHECKING:
    from transports.memory.entities import ConsumerState, QueueState

__all__ = ["Message", "QueueStore", "QueuedMessage"]


class Message:
    """A published message, shared by every queue it was routed to."""

    __slots__ = ("body", "exchange", "properties", "routing_key")

    def __init__(self, body: bytes, exchange: str, routing_key: str,
                 properties: Properties) -> None:
        self.body = body
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties

    @property
    def persistent(self) -> bool:
        return self.properties.delivery_mode == 2


class QueuedMessage(Message):
    """A message in one queue (its own copy of the message's fields): its position, expiry
    and redelivery flag; and while a client holds it unacknowledged, its delivery tag and
    the consumer it went to (None for basic.get)."""

    __slots__ = ("bcc", "consumer", "expires_at", "queue", "redelivered", "seq", "tag")

    def __init__(self, seq: int, body: bytes, exchange: str, routing_key: str,
                 properties: Properties, expires_at: float | None, queue: QueueState) -> None:
        self.body = body
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties
        self.seq = seq
        self.expires_at = expires_at
        self.queue = queue
        self.redelivered = False
        self.tag = 0
        self.consumer: ConsumerState | None = None
        # the keys its BCC header added, gone from its headers but not from its routing
        self.bcc: tuple[str, ...] = ()

    def __lt__(self, other: QueuedMessage) -> bool:
        return self.seq < other.seq

    @property
    def size(self) -> int:
        return len(self.body)


class _Level:
    """One priority level. Invariant: every requeued message precedes every fresh one, so
    the head is the smallest requeued message, else the first fresh one."""

    __slots__ = ("fresh", "requeued")

    def __init__(self) -> None:
        self.fresh: deque[QueuedMessage] = deque()
        self.requeued: list[QueuedMessage] = []

    def __len__(self) -> int:
        return len(self.fresh) + len(self.requeued)

    def head(self) -> QueuedMessage | None:
        if self.requeued:
            return self.requeued[0]
        return self.fresh[0] if self.fresh else None

    def pop(self) -> QueuedMessage:
        if self.requeued:
            return heapq.heappop(self.requeued)
        return self.fresh.popleft()

    def __iter__(self) -> Iterator[QueuedMessage]:
        yield from sorted(self.requeued)
        yield from self.fresh


class QueueStore:
    """The ready messages of a queue (delivered, unacknowledged ones live on channels)."""

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        self.max_priority = _int_arg(arguments, "x-max-priority")
        self._levels = [_Level() for _ in range((self.max_priority or 0) + 1)]
        # without x-max-priority, the one level's deque of fresh messages
        self._fresh = self._levels[0].fresh if self.max_priority is None else None
        self.bytes = 0
        self._count = 0
        # the sequence number of the newest message put in with an expiry (its driver sets
        # it, off the path of messages without one)
        self.expiring_seq = 0

    def __len__(self) -> int:
        return self._count

    def _level_for(self, qm: QueuedMessage) -> _Level:
        if self.max_priority is None:
            return self._levels[0]
        priority = qm.properties.priority or 0
        return self._levels[max(0, min(priority, self.max_priority))]

    def append(self, qm: QueuedMessage) -> None:
        fresh = self._fresh
        if fresh is not None:
            fresh.append(qm)
        else:
            self._level_for(qm).fresh.append(qm)
        self._count += 1
        self.bytes += len(qm.body)

    def requeue(self, qm: QueuedMessage) -> None:
        """Put a delivered message back at its original position, flagged redelivered."""
        qm.redelivered = True
        heapq.heappush(self._level_for(qm).requeued, qm)
        self._count += 1
        self.bytes += qm.size

    def _head_level(self) -> _Level | None:
        for level in reversed(self._levels):
            if level.fresh or level.requeued:
                return level
        return None

    def head(self) -> QueuedMessage | None:
        level = self._head_level()
        return level.head() if level is not None else None

    def pop(self) -> QueuedMessage | None:
        level = self._levels[0] if self._fresh is not None else self._head_level()
        if level is None or not (level.requeued or level.fresh):
            return None
        qm = level.pop()
        self._count -= 1
        self.bytes -= len(qm.body)
        return qm

    def pop_expired(self, now: float) -> Iterator[QueuedMessage]:
        """Remove and yield the expired messages at the head of the queue. Like RabbitMQ's
        priority queue, this goes down the priority levels from the highest and stops at
        the first message that has not expired: an expired message below it stays (and is
        counted) until the levels above it are empty."""
        for level in reversed(self._levels):
            while True:
                qm = level.head()
                if qm is None:
                    break  # an empty level: look at the next one down
                if qm.expires_at is None or qm.expires_at > now:
                    return
                level.pop()
                self._count -= 1
                self.bytes -= qm.size
                yield qm

    def next_expiry(self) -> float | None:
        """When the head message expires (None when it never will): what RabbitMQ sets its
        queue's expiry timer by."""
        qm = self.head()
        return None if qm is None else qm.expires_at

    def may_expire(self) -> bool:
        """Whether a ready message may have an expiry: one is no newer than the last message
        with an expiry put in (each level holds its messages in publish order)."""
        last = self.expiring_seq
        return any((qm := level.head()) is not None and qm.seq <= last
                   for level in self._levels)

    def clear(self) -> list[QueuedMessage]:
        removed = list(self)
        for level in self._levels:
            level.fresh.clear()
            level.requeued.clear()
        self._count = 0
        self.bytes = 0
        return removed

    def __iter__(self) -> Iterator[QueuedMessage]:
        """Ready messages in delivery order."""
        for level in reversed(self._levels):
            yield from level


def _int_arg(arguments: Mapping[str, Any], key: str) -> int | None:
    value = arguments.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
