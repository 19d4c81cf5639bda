"""What happens inside a broker, as events for tests, traces and teaching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from msgbus.values import Properties

__all__ = ["MESSAGE_KINDS", "BrokerEvent", "EventKind"]

EventKind = Literal[
    "published", "routed", "returned", "delivered", "acked", "rejected", "requeued",
    "expired", "dead-lettered", "dropped", "confirmed", "get-empty", "channel-closed",
]
#: The kinds that say what became of a message; the others (a publisher confirm sent back,
#: a basic.get that found its queue empty, a channel gone) are the broker's bookkeeping,
#: which RabbitMQ's management statistics count and a trace of messages leaves out.
MESSAGE_KINDS: frozenset[str] = frozenset((
    "published", "routed", "returned", "delivered", "acked", "rejected", "requeued",
    "expired", "dead-lettered", "dropped"))


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One step in a message's life. Fields that do not apply to ``kind`` are empty.

    ``connection`` (the broker's connection id) and ``channel`` (its channel number) say
    whose action it was: the publisher's for ``published``, ``routed``, ``returned`` and
    ``confirmed`` (``delivery_tag`` is then the publish's sequence number and ``reason``
    ``ack`` or ``nack``), the receiver's for ``delivered`` (``no_ack``: with automatic
    acknowledgement) and ``get-empty``, the acknowledging channel's for ``acked``; 0 when
    no channel did it (expiry, dead-lettering)."""

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
    connection: int = 0
    channel: int = 0
    no_ack: bool = False

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
        if self.kind == "confirmed":
            return (f"confirmed publish {self.delivery_tag} of channel {self.channel} to the "
                    f"publisher ({self.reason})")
        if self.kind == "get-empty":
            return f"queue {self.queue!r}: basic.get found it empty"
        if self.kind == "channel-closed":
            return f"channel {self.channel} of connection {self.connection} closed"
        detail = f" ({self.reason})" if self.reason else ""
        return f"queue {self.queue!r}: {self.kind}{detail}"
