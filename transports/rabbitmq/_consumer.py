"""The consumer handle of the RabbitMQ transport, the record recovery restarts it from, and
how a consumer is started on a channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from msgbus.transport import Arguments, ConsumerHandle, DeliveryCallback
from msgbus.values import Delivery
from transports.rabbitmq._properties import from_pika

if TYPE_CHECKING:
    from transports.rabbitmq.transport import RabbitMQTransport

__all__ = ["RabbitMQConsumer", "start_consumer"]


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

    def on_message(_ch: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        tag = base + method.delivery_tag
        if tag > t._tag_high:
            t._tag_high = tag
        if opened is not None:
            opened(method.delivery_tag)
        callback(
            Delivery(
                body, tag, method.exchange, method.routing_key, method.redelivered,
                from_pika(properties), method.consumer_tag,
            )
        )

    tag = channel.basic_consume(
        consumer.queue, on_message, auto_ack=consumer.auto_ack,
        exclusive=consumer.exclusive, consumer_tag=consumer.consumer_tag or None,
        arguments=consumer.arguments,
    )
    consumer._started(tag, consumer.queue)
    t._consumers[tag] = consumer
