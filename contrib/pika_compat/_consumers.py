"""Consumer bookkeeping of a channel, and the wire round trip of method frames."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import pika.spec

from contrib.pika_compat._properties import pika_delivery
from transports.memory.entities import DeliverMany

if TYPE_CHECKING:
    from contrib.pika_compat._channel import BlockingChannel

__all__ = ["ConsumerInfo", "GeneratorInfo", "Message", "OnMessage", "PendingBatch", "wire"]

M = TypeVar("M")
Message = tuple[pika.spec.Basic.Deliver, pika.spec.BasicProperties, bytes]
OnMessage = Callable[["BlockingChannel", pika.spec.Basic.Deliver, pika.spec.BasicProperties,
                      bytes], None]


def wire(method: M) -> M:
    """Encode a method frame the way pika sends it (raising pika's own errors for bad
    values) and decode it the way the server reads it."""
    decoded = type(method)()
    decoded.decode(b"".join(method.encode()))  # type: ignore[attr-defined]
    return decoded


class PendingBatch:
    """Deliveries in a row to one consumer, not yet dispatched: pika's objects for each are
    made only when its turn comes."""

    __slots__ = ("event", "next")

    def __init__(self, event: DeliverMany) -> None:
        self.event = event
        self.next = 0

    def __bool__(self) -> bool:
        return self.next < len(self.event.messages)

    def take(self) -> Message:
        """The next delivery, as pika hands it to a callback."""
        index = self.next
        self.next = index + 1
        event = self.event
        message = event.messages[index]
        return pika_delivery(event.consumer_tag, event.first_tag + index,
                             event.redelivered[index], message)

    def take_all(self) -> list[Message]:
        taken = []
        while self:
            taken.append(self.take())
        return taken


@dataclass(eq=False)
class ConsumerInfo:
    tag: str
    auto_ack: bool
    callback: OnMessage | None
    generator: bool = False
    cancelled_by_broker: bool = False


@dataclass(eq=False)
class GeneratorInfo:
    params: tuple[str, bool, bool]
    consumer_tag: str
    pending: deque[Message | None] = field(default_factory=deque)  # None: broker cancel
