"""Settling deliveries (ack, nack, reject) on the RabbitMQ transport, and holding acks back.

Tags handed out are the channel's raw tags plus the transport's offset for that channel;
a tag at or below the offset belongs to a channel that is gone and is ignored with a
WARNING (the broker has requeued its message). So a tag carries its channel: it is
resolved against the channel of the moment when it is applied, never before.

**Other threads.** A settlement made on a thread other than the owning one waits in a
locked queue the transport owns, and pika's ``add_callback_threadsafe`` wakes the owning
thread to apply it. The queue is drained by ``process_events`` (before and after pika's
I/O, which may return before it ran the callbacks it was given) and by ``close()``, before
the connection closes: acks a worker made are sent, not dropped with the connection.

**Held acks.** While ``process_events`` runs the consumer callbacks, an ack of a single
delivery made on the owning thread is held back instead of being written and flushed at
once. When the callbacks are done, or before anything else the transport sends on the
channel (a publish included), the held acks go out together: one ``basic.ack`` with
``multiple`` when every delivery still awaiting a settlement up to the highest held tag is
among them, else as few frames as that allows. A message is thus never acknowledged
before its callback ran, and a batch of deliveries costs one write instead of one per
message.
"""

from __future__ import annotations

import logging
from threading import Lock, get_ident
from typing import TYPE_CHECKING

from pika.adapters.blocking_connection import BlockingChannel

from transports.rabbitmq import _errors

if TYPE_CHECKING:
    from transports.rabbitmq.transport import RabbitMQTransport

__all__ = ["Acks"]

log = logging.getLogger("transports.rabbitmq")


class Acks:
    """The settlements of a :class:`RabbitMQTransport` (see the module documentation)."""

    __slots__ = ("_lock", "_t", "dispatching", "held", "open", "queued")

    def __init__(self, transport: RabbitMQTransport) -> None:
        self._t = transport
        #: Raw tags of the current channel delivered for a manual settlement and neither
        #: settled nor held yet.
        self.open: set[int] = set()
        #: Raw tags acknowledged during dispatch, not sent yet.
        self.held: list[int] = []
        #: How deep the owning thread is in ``process_events``.
        self.dispatching = 0
        #: Settlements other threads made, (verb, tag, multiple, requeue), in their order.
        self.queued: list[tuple[str, int, bool, bool]] = []
        self._lock = Lock()

    # -- the transport's ack, nack and reject ------------------------------------------

    def ack(self, tag: int, multiple: bool) -> None:
        t = self._t
        channel, base = t._channel, t._tag_base
        if channel is None or tag <= base or get_ident() != t._owner or self.queued:
            self.settle("ack", tag, multiple, False)
            return
        raw = tag - base
        if not multiple and self._hold(raw):  # in a callback: sent when it is done
            return
        try:  # the common case: a tag of the current channel, on the owning thread
            if self.held:
                self.flush(channel)
            channel.basic_ack(raw, multiple)
            self._settled(raw, multiple)
        except _errors.PIKA_ERRORS as exc:
            t._failed(channel, exc, "ignore")
            self.warn_stale("ack", tag)  # recovered: the tag was the lost channel's

    def settle(self, verb: str, tag: int, multiple: bool, requeue: bool) -> None:
        t = self._t
        if get_ident() != t._owner:
            if t._closed:
                self.warn_stale(verb, tag)
                return
            with self._lock:
                self.queued.append((verb, tag, multiple, requeue))
            connection = t._connection
            if connection is not None:
                try:  # wake the owning thread's process_events
                    connection.add_callback_threadsafe(self.drain)
                except _errors.PIKA_ERRORS as exc:
                    log.debug("waking the owner of %s: %r", t._url, exc)
            return
        if self.queued:  # those made before it go first
            self.drain()
        self._settle_now(verb, tag, multiple, requeue)

    def drain(self) -> None:
        """Apply, on the owning thread, the settlements other threads queued."""
        while self.queued:
            with self._lock:
                batch, self.queued = self.queued, []
            for verb, tag, multiple, requeue in batch:
                self._settle_now(verb, tag, multiple, requeue)

    def _settle_now(self, verb: str, tag: int, multiple: bool, requeue: bool) -> None:
        t = self._t
        channel = t._channel
        if channel is None:
            if t._closed:
                self.warn_stale(verb, tag)
                return
            try:
                channel = t._ensure_channel()
            except _errors.PIKA_ERRORS as exc:
                t._failed(None, exc, "ignore")
                self.warn_stale(verb, tag)  # recovered: the tag is from the lost connection
                return
        base = t._tag_base
        if tag and tag <= base:
            self.warn_stale(verb, tag)
            return
        raw = tag - base if tag else 0
        if verb == "ack" and not multiple and self._hold(raw):
            return
        try:
            if self.held:
                self.flush(channel)
            if verb == "ack":
                channel.basic_ack(raw, multiple)
            elif verb == "nack":
                channel.basic_nack(raw, multiple, requeue)
            else:
                channel.basic_reject(raw, requeue)
            self._settled(raw, multiple)
        except _errors.PIKA_ERRORS as exc:
            t._failed(channel, exc, "ignore")
            self.warn_stale(verb, tag)  # recovered: the tag is from the lost connection

    def warn_stale(self, verb: str, tag: int) -> None:
        log.warning(
            "%s of delivery tag %d ignored: it belongs to a channel that is closed "
            "(the broker has requeued the message)", verb, tag,
        )

    # -- held acks ---------------------------------------------------------------------

    def _hold(self, raw: int) -> bool:
        """Hold back the ack of ``raw`` when that is safe; True if it was held."""
        if self.dispatching and raw in self.open:
            self.open.discard(raw)
            self.held.append(raw)
            return True
        return False

    def _settled(self, raw: int, multiple: bool) -> None:
        """``raw`` (and with ``multiple`` every tag up to it; 0: all) was settled."""
        if not multiple:
            self.open.discard(raw)
        elif raw == 0:
            self.open.clear()
        else:
            for done in [tag for tag in self.open if tag <= raw]:
                self.open.discard(done)

    def flush(self, channel: BlockingChannel) -> None:
        """Send the held acks on ``channel``."""
        held = self.held
        if not held:
            return
        self.held = []
        top = max(held)
        low = min(self.open) if self.open else top + 1  # the oldest delivery still open
        if low > top:
            channel.basic_ack(top, True)
            return
        below = [tag for tag in held if tag < low]
        if below:
            channel.basic_ack(max(below), True)
        for tag in held:
            if tag > low:
                channel.basic_ack(tag, False)

    def reset(self) -> None:
        """The channel is gone: forget its tags (held acks are void: warned about)."""
        if self.held:
            log.warning(
                "%d ack(s) held for a channel that closed are void: the broker has requeued "
                "those messages", len(self.held),
            )
        self.open.clear()
        self.held = []
