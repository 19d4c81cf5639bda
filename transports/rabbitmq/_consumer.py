"""The consumer handle of the RabbitMQ transport, and the record recovery restarts it from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgbus.transport import Arguments, ConsumerHandle, DeliveryCallback

__all__ = ["RabbitMQConsumer"]


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
