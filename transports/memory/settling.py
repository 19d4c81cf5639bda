"""Settlements (ack, nack, reject) made on threads other than the transport's own.

The same model as the RabbitMQ transport's: a delivery tag carries its channel (it is
resolved against the channel of the moment it is applied), and what another thread settles
waits in a locked queue the transport owns, in the order it was made, until the owning
thread — or whichever thread is processing events — applies it: ``process_events`` drains
the queue before and after it hands deliveries out, and ``close()`` before the connection
closes, so a worker's acks are never dropped. An error a queued settlement meets (an
unknown tag closes the channel with 406) is raised there, as on RabbitMQ.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from msgbus import checks

if TYPE_CHECKING:
    from transports.memory.transport import MemoryTransport

__all__ = ["CLOSED_BASE", "Settlement", "SettlementQueue", "apply_queued", "local_tag",
           "settle_elsewhere"]

log = logging.getLogger("transports.memory")
#: The delivery tag offset of a closed transport: every tag is at or below it, stale.
CLOSED_BASE = 2**64


#: (verb, delivery tag, multiple, requeue)
Settlement = tuple[str, int, bool, bool]


class SettlementQueue:
    """Settlements made by other threads, waiting for the owning thread."""

    __slots__ = ("_lock", "_queued")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[Settlement] = []

    def __bool__(self) -> bool:
        return bool(self._queued)

    def put(self, verb: str, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        """Queue a settlement; a bad tag is refused at once, on the calling thread."""
        checks.require_delivery_tag(delivery_tag)
        with self._lock:
            self._queued.append((verb, delivery_tag, multiple, requeue))

    def drain(self, apply: Callable[[str, int, bool, bool], None]) -> None:
        """Apply the queued settlements in order; if one raises, the later ones stay
        queued for the next drain."""
        while self._queued:
            with self._lock:
                batch, self._queued = self._queued, []
            for index, (verb, tag, multiple, requeue) in enumerate(batch):
                try:
                    apply(verb, tag, multiple, requeue)
                except BaseException:
                    with self._lock:
                        self._queued[:0] = batch[index + 1:]
                    raise


def settle_elsewhere(t: MemoryTransport, verb: str, delivery_tag: int, multiple: bool,
                     requeue: bool) -> bool:
    """Queue a settlement made on another thread than ``t``'s own (or the one processing
    its events) for that thread to apply; True if queued. On the owning thread, what other
    threads queued goes first."""
    thread = threading.get_ident()
    if thread != t._owner and thread != t._batching and not t._closed:
        t._settlements.put(verb, delivery_tag, multiple, requeue)
        t._connection.wake()
        return True
    if t._settlements:
        t._settlements.drain(partial(apply_queued, t))
    return False


def apply_queued(t: MemoryTransport, verb: str, delivery_tag: int, multiple: bool,
                 requeue: bool) -> None:
    """Apply one queued settlement on the calling thread (which is processing events)."""
    owner, t._owner = t._owner, threading.get_ident()
    try:
        if verb == "ack":
            t.ack(delivery_tag, multiple=multiple)
        else:
            t._refuse(verb, delivery_tag, multiple, requeue)
    finally:
        t._owner = owner


def local_tag(t: MemoryTransport, delivery_tag: int, action: str, base: int) -> int | None:
    """The channel's tag for ``delivery_tag`` (of the channel whose offset is ``base``),
    or None (logged) when it belongs to a channel that is gone."""
    if type(delivery_tag) is int and base < delivery_tag < CLOSED_BASE:
        return delivery_tag - base
    checks.require_delivery_tag(delivery_tag)
    if delivery_tag == 0:
        return 0
    if t._closed:  # its channel went with it, as did every tag (CLOSED_BASE)
        log.warning("ignoring %s of delivery tag %d: the transport is closed (the "
                    "message was returned to its queue)", action, delivery_tag)
    else:
        log.warning("ignoring %s of delivery tag %d: it belongs to a closed channel "
                    "(the message was returned to its queue)", action, delivery_tag)
    return None
