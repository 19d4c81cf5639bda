"""The consumers of a :class:`~transports.memory.MemoryTransport` and how what the broker
sends them is handed out; the settling helpers the transport applies under its lock.

``process_events`` drains the connection's inbox and runs the callbacks here, on the
calling thread, outside the broker lock. Acks the callbacks make are held and sent
together when they are done (see :meth:`MemoryTransport.ack`). A callback that raises:
the error goes to the caller of ``process_events``, and what came after it (the rest of a
run of deliveries included, in order) waits in the transport's ``_pending`` for the next
call, unless its channel went meanwhile (the broker has then requeued those messages).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from msgbus.errors import ChannelClosed, PreconditionFailed
from msgbus.transport import ConsumerHandle, DeliveryCallback
from msgbus.values import Delivery
from transports.memory.broker import Channel
from transports.memory.entities import ConsumerCancelled, Deliver, DeliverMany, Return

if TYPE_CHECKING:
    from transports.memory.transport import MemoryTransport

__all__ = [
    "STALE",
    "MemoryConsumer",
    "client_tag",
    "dispatch",
    "hand_out",
    "if_open",
    "requeue_undispatched",
]

_UNKNOWN_TAG = "PRECONDITION_FAILED - unknown delivery tag "
#: What a settlement returns when its channel closed before the broker saw it.
STALE = object()


class MemoryConsumer(ConsumerHandle):
    """A consumer on a :class:`MemoryTransport`, with what recovery restarts it from."""

    def __init__(self, transport: MemoryTransport, channel: Channel, tag: str, queue: str,
                 callback: DeliveryCallback, auto_ack: bool, prefetch: int = 0,
                 exclusive: bool = False, arguments: Mapping[str, Any] | None = None) -> None:
        self._transport = transport
        self._channel = channel
        self._tag = tag
        self._queue = queue
        self.callback = callback
        self.auto_ack = auto_ack
        # what basic.consume was given, for recovery to start it again
        self.prefetch = prefetch
        self.exclusive = exclusive
        self.arguments = arguments
        self.last_tag = 0  # the delivery tag last handed to the callback
        self._active = True

    @property
    def consumer_tag(self) -> str:
        return self._tag

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def active(self) -> bool:
        return self._active and (self._channel.is_open or not self._transport._closed)

    def cancel(self) -> None:
        transport = self._transport
        transport._flush_held_acks()
        was_active = self._active and self._channel.is_open
        if was_active:
            self._channel.basic_cancel(self._tag)
        self._active = False
        transport._consumers.pop(self._tag, None)
        if was_active and not self.auto_ack:
            requeue_undispatched(transport, self)

    def __repr__(self) -> str:
        return f"<memory consumer {self._tag!r} on {self._queue!r} active={self.active}>"


def hand_out(t: MemoryTransport, events: list[Any]) -> None:
    if t._core.tracing or t._batching is not None:
        dispatch(t, events)
        return
    t._batching = threading.get_ident()
    try:
        dispatch(t, events)
    finally:
        try:
            if t._held_acks:
                t._flush_acks()
        finally:
            t._batching = None

def requeue_undispatched(t: MemoryTransport, consumer: MemoryConsumer) -> None:
    """Nack, requeued, what the broker delivered to ``consumer`` (cancelled, acking)
    that its callback has not seen: what pika does, so the RabbitMQ transport too."""
    channel = t._channel
    if channel is not consumer._channel or not channel.is_open:
        return
    number, tag, base = channel.state.id, consumer.consumer_tag, t._tag_base
    with t.broker._lock:
        events = [*t._dispatched, *t._pending, *t._connection.state.outbox]
        unacked = channel.state.unacked
        tags: dict[int, None] = {}
        for event in events:
            if type(event) is Deliver and event.channel == number:
                if event.consumer_tag == tag:
                    tags[event.delivery_tag] = None
            elif (type(event) is DeliverMany and event.channel == number
                  and event.consumer_tag == tag):
                tags.update(dict.fromkeys(
                    range(event.first_tag, event.first_tag + len(event.messages))))
        local = [n for n in tags if n + base > consumer.last_tag and n in unacked]
    for one in local:
        t._run(t._core.basic_nack, one, multiple=False, requeue=True)

def dispatch(t: MemoryTransport, events: list[Any]) -> None:
    """Run the callbacks of ``events``; if one raises, what comes after it waits in
    ``_pending`` for the next ``process_events`` (unless the channel went meanwhile)."""
    t._dispatched = events
    channel = t._channel
    current = channel.state.id
    consumers = t._consumers
    index = 0
    done = False
    try:
        for index, event in enumerate(events):  # noqa: B007 (used after a raise)
            if event.channel != current:
                continue  # for a channel closed since: its consumers are gone
            if type(event) is Deliver:
                consumer = consumers.get(event.consumer_tag)
                if consumer is not None:
                    message = event.message
                    consumer.last_tag = tag = event.delivery_tag + t._tag_base
                    consumer.callback(Delivery(
                        message.body, tag, message.exchange,
                        message.routing_key, event.redelivered, message.properties,
                        event.consumer_tag))
            elif type(event) is DeliverMany:
                deliver_many(t, event)
            elif isinstance(event, Return):
                for callback in list(t._return_callbacks):
                    callback(event.message)
            elif isinstance(event, ConsumerCancelled):
                cancelled = t._consumers.pop(event.consumer_tag, None)
                if cancelled is not None:
                    cancelled._active = False
        done = True
    finally:
        rest, t._rest = t._rest, []
        if not done and t._channel is channel and channel.state.open:
            t._pending = [*rest, *events[index + 1:], *t._pending]

def deliver_many(t: MemoryTransport, event: DeliverMany) -> None:
    consumers, consumer_tag = t._consumers, event.consumer_tag
    consumer = consumers.get(consumer_tag)
    tag = event.first_tag + t._tag_base
    messages, redelivered = event.messages, event.redelivered
    for index, message in enumerate(messages):
        if consumers.get(consumer_tag) is not consumer or consumer is None:
            return  # cancelled, or its channel closed, by an earlier callback
        consumer.last_tag = tag
        done = False
        try:
            consumer.callback(Delivery(
                message.body, tag, message.exchange, message.routing_key,
                redelivered[index], message.properties, consumer_tag))
            done = True
        finally:
            if not done and index + 1 < len(messages):  # the rest wait their turn
                t._rest = [DeliverMany(
                    event.channel, consumer_tag, event.first_tag + index + 1,
                    messages[index + 1:], redelivered[index + 1:])]
        tag += 1


def if_open(channel: Any, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a core channel method unless the channel closed (under the broker lock)."""
    if not channel.open:
        return STALE
    return method(channel, *args, **kwargs)


def client_tag(error: ChannelClosed, base: int) -> ChannelClosed:
    """``error`` naming the delivery tag as the client sent it (``base`` + the channel's)."""
    text = error.reply_text
    if base and isinstance(error, PreconditionFailed) and text.startswith(_UNKNOWN_TAG):
        number = text[len(_UNKNOWN_TAG):]
        if number.isdigit():
            return PreconditionFailed(f"{_UNKNOWN_TAG}{int(number) + base}")
    return error
