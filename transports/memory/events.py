"""What happens inside a broker, as events for tests, traces and teaching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from msgbus.values import Properties

__all__ = ["BrokerEvent", "EventKind"]

EventKind = Literal[
    "published", "routed", "returned", "delivered", "acked", "rejected", "requeued",
    "expired", "dead-lettered", "dropped",
]


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One step in a message's life. Fields that do not apply to ``kind`` are empty."""

    kind: EventKind
    vhost: str
    exchange: str = ""
    routing_key: str = ""
    queue: str = ""
    consumer_tag: str = ""
    delivery_tag: int = 0
    reason: str = ""
    body: bytes = b""
    properties: Properties | None = None
    queues: tuple[str, ...] = ()
    redelivered: bool = False

    def describe(self) -> str:
        """A one-line, human-readable account of the event."""
        where = f"exchange {self.exchange!r}" if self.exchange else "the default exchange"
        if self.kind == "published":
            return f"published to {where} with routing key {self.routing_key!r}"
        if self.kind == "routed":
            targets = ", ".join(repr(q) for q in self.queues) or "no queue"
            return f"{where} routed {self.routing_key!r} to {targets}"
        if self.kind == "returned":
            return f"returned to the publisher: {self.reason}"
        if self.kind == "delivered":
            to = f"consumer {self.consumer_tag!r}" if self.consumer_tag else "basic.get"
            flag = " (redelivered)" if self.redelivered else ""
            return f"queue {self.queue!r} delivered tag {self.delivery_tag} to {to}{flag}"
        if self.kind == "dead-lettered":
            return (f"queue {self.queue!r} dead-lettered a message ({self.reason}) "
                    f"to {where} with routing key {self.routing_key!r}")
        detail = f" ({self.reason})" if self.reason else ""
        return f"queue {self.queue!r}: {self.kind}{detail}"
