"""Consumer bookkeeping of a channel, and the wire round trip of method frames."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import pika.spec

if TYPE_CHECKING:
    from contrib.pika_compat._channel import BlockingChannel

__all__ = ["ConsumerInfo", "GeneratorInfo", "Message", "OnMessage", "wire"]

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
