"""The consumer handle of the RabbitMQ transport, the record recovery restarts it from, how
a consumer is started on a channel, and what happens when its callback raises.

**A callback that raises.** pika hands out what it read in one go, and a callback that
raises would leave the deliveries after it in pika's channel, not dispatched again until
more arrive (with a prefetch, never: they hold its slots). So the error is kept, the
deliveries after it are parked in order, and the error is raised to the caller of
``process_events`` once pika is done; the next ``process_events`` hands out the parked
deliveries first (those of a channel that closed meanwhile are dropped: the broker has
requeued them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from threading import get_ident
from typing import TYPE_CHECKING, Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from msgbus.transport import Arguments, ConsumerHandle, DeliveryCallback
from msgbus.values import Delivery
from transports.rabbitmq import _errors
from transports.rabbitmq._properties import from_pika

if TYPE_CHECKING:
    from transports.rabbitmq.transport import RabbitMQTransport

__all__ = ["Parked", "RabbitMQConsumer", "process_events", "start_consumer"]


class RabbitMQConsumer(ConsumerHandle):
    """A consumer on a :class:`~transports.rabbitmq.RabbitMQTransport`.

    It keeps what basic.consume was given, so that recovery can start it again on a new
    connection with the same consumer tag, callback and prefetch. ``queue`` follows a
    server-named queue that recovery re-created under a new name.
    """

    __slots__ = (
        "_active",
        "_cancel",
        "_queue",
        "_tag",
        "arguments",
        "auto_ack",
        "callback",
        "exclusive",
        "prefetch",
    )

    def __init__(
        self,
        queue: str,
        callback: DeliveryCallback,
        *,
        prefetch: int,
        auto_ack: bool,
        exclusive: bool,
        consumer_tag: str,
        arguments: Arguments | None,
        cancel: Callable[[RabbitMQConsumer], None],
    ) -> None:
        self._queue = queue
        self.callback = callback
        self.prefetch = prefetch
        self.auto_ack = auto_ack
        self.exclusive = exclusive
        self._tag = consumer_tag
        self.arguments: dict[str, Any] | None = dict(arguments) if arguments else None
        self._cancel = cancel
        self._active = True

    @property
    def consumer_tag(self) -> str:
        return self._tag

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def active(self) -> bool:
        return self._active

    def cancel(self) -> None:
        """basic.cancel; does nothing when the consumer is no longer active."""
        if self._active:
            self._cancel(self)

    def _started(self, consumer_tag: str, queue: str) -> None:
        self._tag = consumer_tag
        self._queue = queue
        self._active = True

    def _stopped(self) -> None:
        self._active = False

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"<RabbitMQConsumer {self._tag!r} on queue {self._queue!r} ({state})>"


def start_consumer(t: RabbitMQTransport, channel: BlockingChannel,
                   consumer: RabbitMQConsumer) -> None:
    """basic.qos (when the prefetch differs) and basic.consume on ``channel``, with a pika
    callback that turns each delivery into a :class:`~msgbus.values.Delivery` with the
    transport's tag for it."""
    if consumer.prefetch != t._qos:
        channel.basic_qos(prefetch_count=consumer.prefetch)
        t._qos = consumer.prefetch
    base = t._tag_base
    callback = consumer.callback
    opened = None if consumer.auto_ack else t._acks.open.add

    parked = t._parked

    def on_message(_ch: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        tag = base + method.delivery_tag
        if tag > t._tag_high:
            t._tag_high = tag
        if opened is not None:
            opened(method.delivery_tag)
        delivery = Delivery(
            body, tag, method.exchange, method.routing_key, method.redelivered,
            from_pika(properties), method.consumer_tag,
        )
        if parked:  # a callback raised: the rest wait their turn, in order
            parked.append(consumer, base, delivery)
            return
        try:
            callback(delivery)
        except Exception as exc:  # noqa: BLE001 - raised to the caller of process_events
            parked.raised(exc)

    tag = channel.basic_consume(
        consumer.queue, on_message, auto_ack=consumer.auto_ack,
        exclusive=consumer.exclusive, consumer_tag=consumer.consumer_tag or None,
        arguments=consumer.arguments,
    )
    consumer._started(tag, consumer.queue)
    t._consumers[tag] = consumer


class Parked:
    """Deliveries pika handed out after a callback raised, and that error."""

    __slots__ = ("_entries", "error")

    def __init__(self) -> None:
        self._entries: deque[tuple[RabbitMQConsumer, int, Delivery]] = deque()
        #: The error a callback raised, until ``process_events`` raises it.
        self.error: Exception | None = None

    def __bool__(self) -> bool:
        return self.error is not None or bool(self._entries)

    def append(self, consumer: RabbitMQConsumer, base: int, delivery: Delivery) -> None:
        self._entries.append((consumer, base, delivery))

    def raised(self, error: Exception) -> None:
        if self.error is None:
            self.error = error

    def clear(self) -> None:
        """The channel closed: the broker has requeued what was parked."""
        self._entries.clear()

    def raise_error(self) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error

    def hand_out(self, t: RabbitMQTransport) -> None:
        """Run the callbacks of the parked deliveries, in order, on the owning thread;
        when one raises, the rest stay parked for the next ``process_events``."""
        entries = self._entries
        while entries:
            consumer, base, delivery = entries.popleft()
            if base != t._tag_base or t._channel is None:
                continue  # their channel is gone: the broker requeued them
            if not consumer.active:  # cancelled since: back to the queue, as pika does
                if not consumer.auto_ack:
                    t.nack(delivery.delivery_tag, requeue=True)
                continue
            consumer.callback(delivery)


def process_events(t: RabbitMQTransport, timeout: float | None) -> None:
    """``RabbitMQTransport.process_events``: hand out what is parked, or let pika run the
    callbacks of what arrives; then send what the callbacks and other threads settled."""
    t._owner = get_ident()
    acks = t._acks
    t._parked.raise_error()  # one a lost connection kept from the call it happened in
    if t._parked and t._channel is not None:
        _hand_out_parked(t, t._channel)
        return

    def op(channel: BlockingChannel) -> None:
        connection = t._connection
        if connection is None:
            raise pika.exceptions.ConnectionWrongStateError("closed")
        acks.dispatching += 1
        try:
            connection.process_data_events(time_limit=timeout)
        finally:
            acks.dispatching -= 1
            if channel.is_open:
                acks.drain()
                acks.flush(channel)
        t._parked.raise_error()
        if channel.is_closed:
            raise pika.exceptions.ChannelWrongStateError("channel closed")

    channel = t._channel
    if channel is None:
        t._run(op, "ignore")
        return
    try:  # the common case, without the detour through _run
        if acks.queued:
            acks.drain()
        if acks.held:
            acks.flush(channel)
        op(channel)
    except _errors.PIKA_ERRORS as exc:
        t._failed(channel, exc, "ignore")


def _hand_out_parked(t: RabbitMQTransport, channel: BlockingChannel) -> None:
    acks = t._acks
    acks.dispatching += 1
    try:
        t._parked.hand_out(t)
    finally:
        acks.dispatching -= 1
        if channel.is_open and channel is t._channel:
            try:
                acks.flush(channel)
            except _errors.PIKA_ERRORS as exc:
                t._failed(channel, exc, "ignore")
