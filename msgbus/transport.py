"""The ``Transport`` interface: what producers, processors and RPC need from a broker.

A transport is one connection with one channel, in AMQP 0-9-1 terms. Its methods mirror
AMQP methods and raise the errors of :mod:`msgbus.errors`. When the broker closes the
channel (a soft error: 403, 404, 405, 406) the error is raised and the transport opens a
fresh channel for the next call; as on any AMQP channel, the consumers of the closed
channel are gone and its unacknowledged messages are back in their queues. Delivery tags
of a closed channel are never applied to a later one: acknowledging them does nothing
and logs a warning.

Publisher confirms are on by default (``confirm_publishes=True``): ``publish`` returns once
the broker confirmed the message, raises :class:`~msgbus.errors.PublishNacked` if it
refused it and :class:`~msgbus.errors.Unroutable` if a ``mandatory`` message was returned.
Without confirms, returned messages go to the callbacks given to ``add_return_callback``.
``publish_batch`` publishes many messages without waiting for each one's confirm: it
returns once all are confirmed, or raises :class:`~msgbus.errors.PublishBatchFailed`
listing the ones that are not.

Callbacks (consumers, returns) run only inside ``process_events`` on the thread calling it.
A callback that raises: the error reaches the caller of ``process_events``, and the next
call goes on with the deliveries after it (they are not lost, nor held until the channel
closes). ``process_events`` on a closed transport raises ``ConnectionLost``: a loop around
it never spins.

Both transports keep the same promises through:

- **time**: the broker acts on its own clock. A message TTL, a per-message expiration or a
  queue's ``x-expires`` acts when its time comes, with nobody calling the broker (a
  consumer of a dead-letter queue behind a TTL queue gets the message while it waits in
  ``process_events``); the in-process broker under a manual clock acts when it is moved.
- **restarts and connection errors**: when the connection is lost (a node or
  ``Broker.restart()``, a forced close, a connection error) the transport reconnects under
  its :class:`~msgbus.recovery.RecoveryPolicy`, declares again what it declared, restarts
  its consumers and reports each step to ``add_connection_listener`` listeners as a
  :class:`~msgbus.recovery.ConnectionEvent`. A transport that gave up is closed: every
  call raises :class:`~msgbus.errors.ConnectionLost`.
- **threads**: ``ack``, ``nack`` and ``reject`` may be called from any thread. A delivery
  tag carries its channel (tags grow across channels and connections): a tag of a channel
  that is gone is ignored with a WARNING, never applied to another channel's delivery.
  Settlements wait in a queue the transport owns, drained by ``process_events`` and by
  ``close()``, so that acks a worker made before ``close()`` are sent. A tag must fit in
  64 bits (:class:`~msgbus.errors.ValidationError` otherwise).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from msgbus import checks
from msgbus.errors import (
    ChannelClosed,
    ConnectionClosed,
    ConnectionLost,
    MsgbusError,
    PublishBatchFailed,
    PublishNacked,
    Unroutable,
)
from msgbus.recovery import ConnectionListener
from msgbus.values import (
    Delivery,
    ExchangeType,
    Properties,
    Publication,
    QueueInfo,
    ReturnedMessage,
)

__all__ = ["ConsumerHandle", "DeliveryCallback", "ReturnCallback", "Transport"]

DeliveryCallback = Callable[[Delivery], None]
ReturnCallback = Callable[[ReturnedMessage], None]
Arguments = Mapping[str, Any]


class ConsumerHandle(abc.ABC):
    """A running consumer; ``cancel()`` stops it (basic.cancel)."""

    @property
    @abc.abstractmethod
    def consumer_tag(self) -> str: ...

    @property
    @abc.abstractmethod
    def queue(self) -> str: ...

    @property
    @abc.abstractmethod
    def active(self) -> bool:
        """False once cancelled, by the client or by the broker (queue deleted, channel closed)."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop receiving. Messages the callback was given and has not acknowledged stay
        unacknowledged; for a consumer that acknowledges, those the broker had already sent
        but the callback was not given yet (a consumer cancelled from its own callback, in
        the middle of a batch) go back to their queue, redelivered, as pika does with them."""


class Transport(abc.ABC):
    """One AMQP connection and channel. Use it as a context manager, or call ``close()``."""

    # -- exchanges -------------------------------------------------------------------

    @abc.abstractmethod
    def declare_exchange(
        self,
        name: str,
        type: ExchangeType | str = ExchangeType.DIRECT,
        *,
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: Arguments | None = None,
    ) -> None:
        """exchange.declare"""

    @abc.abstractmethod
    def delete_exchange(self, name: str, *, if_unused: bool = False) -> None:
        """exchange.delete"""

    # -- queues ----------------------------------------------------------------------

    @abc.abstractmethod
    def declare_queue(
        self,
        name: str = "",
        *,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Arguments | None = None,
    ) -> QueueInfo:
        """queue.declare; an empty name asks the broker to name the queue (``amq.gen-...``)."""

    @abc.abstractmethod
    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False) -> int:
        """queue.delete; returns how many messages the queue held."""

    @abc.abstractmethod
    def purge_queue(self, name: str) -> int:
        """queue.purge; returns how many ready messages were removed."""

    # -- bindings --------------------------------------------------------------------

    @abc.abstractmethod
    def bind_queue(
        self, queue: str, exchange: str, routing_key: str = "", arguments: Arguments | None = None
    ) -> None:
        """queue.bind"""

    @abc.abstractmethod
    def unbind_queue(
        self, queue: str, exchange: str, routing_key: str = "", arguments: Arguments | None = None
    ) -> None:
        """queue.unbind"""

    @abc.abstractmethod
    def bind_exchange(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Arguments | None = None,
    ) -> None:
        """exchange.bind: messages routed by ``source`` also go through ``destination``."""

    @abc.abstractmethod
    def unbind_exchange(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Arguments | None = None,
    ) -> None:
        """exchange.unbind"""

    # -- publishing ------------------------------------------------------------------

    @abc.abstractmethod
    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Properties | None = None,
        *,
        mandatory: bool = False,
    ) -> None:
        """basic.publish (confirmed when the transport has ``confirm_publishes``)."""

    def publish_batch(self, publications: Iterable[Publication], *,
                      mandatory: bool = False) -> None:
        """Publish every message of ``publications``, in order, as one batch.

        Each message is what ``publish`` takes (see :class:`~msgbus.values.Publication`),
        and all are checked before the first is sent: a bad one raises
        :class:`~msgbus.errors.ValidationError` and nothing is published. With publisher
        confirms the messages go out without waiting for each other's confirms, and the
        call returns once the broker confirmed them all; if it refused some (nack, a
        returned ``mandatory`` message, a channel error, a lost connection) it raises
        :class:`~msgbus.errors.PublishBatchFailed` listing those once the others are
        confirmed. A channel error names the message that caused it and every later one
        (the broker dropped them), and also the earlier ones whose confirms had not come:
        RabbitMQ closes the channel without sending them, though those messages may have
        been delivered. Without confirms the messages are written together,
        returned ones go to the ``add_return_callback`` callbacks and a channel error is
        raised (by the next call at the latest), as with ``publish``.

        This implementation publishes one message after the other; a transport whose
        confirms come over a network overrides it to pipeline them.
        """
        self._publish_one_by_one(checks.require_publications(publications), mandatory)

    def _publish_one_by_one(self, batch: list[Publication], mandatory: bool, *,
                            confirmed: bool = True) -> None:
        """The default ``publish_batch`` of a checked batch. ``confirmed``: refusals are
        collected into a ``PublishBatchFailed``; else a channel error is raised as
        ``publish`` raises it, and the later messages are not sent."""
        failed: list[tuple[int, Publication, MsgbusError]] = []
        for index, message in enumerate(batch):
            try:
                self.publish(message.exchange, message.routing_key, message.body,
                             message.properties, mandatory=mandatory)
            except (PublishNacked, Unroutable) as exc:
                failed.append((index, message, exc))
            except (ChannelClosed, ConnectionClosed, ConnectionLost) as exc:
                if not confirmed:
                    raise
                # the channel or connection went: this message and the later ones are lost
                failed += [(later, batch[later], exc) for later in range(index, len(batch))]
                break
        if failed:
            raise PublishBatchFailed(failed, len(batch))

    @abc.abstractmethod
    def add_return_callback(self, callback: ReturnCallback) -> None:
        """Call ``callback`` for every returned ``mandatory`` message (basic.return)."""

    # -- consuming -------------------------------------------------------------------

    @abc.abstractmethod
    def consume(
        self,
        queue: str,
        callback: DeliveryCallback,
        *,
        prefetch: int = 0,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str = "",
        arguments: Arguments | None = None,
    ) -> ConsumerHandle:
        """basic.consume; ``prefetch`` (0 = unlimited) applies to this consumer alone."""

    @abc.abstractmethod
    def get(self, queue: str, *, auto_ack: bool = False) -> Delivery | None:
        """basic.get; ``None`` when the queue is empty."""

    @abc.abstractmethod
    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """basic.ack"""

    @abc.abstractmethod
    def nack(self, delivery_tag: int, *, multiple: bool = False, requeue: bool = True) -> None:
        """basic.nack"""

    @abc.abstractmethod
    def reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        """basic.reject"""

    @abc.abstractmethod
    def process_events(self, timeout: float | None = 0.0) -> None:
        """Run pending callbacks; wait up to ``timeout`` seconds (``None``: forever) for one."""

    # -- lifecycle -------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection; unacknowledged messages return to their queues."""

    @abc.abstractmethod
    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """Call ``listener`` with a :class:`~msgbus.recovery.ConnectionEvent` on every
        change of connection state (lost, recovered, failed, closed). Listeners run on the
        thread whose call noticed the change, in the middle of recovery: they should record
        or signal, not call the transport."""

    @property
    def vhost(self) -> str:
        """The virtual host this transport is connected to."""
        return "/"

    @property
    def supports_direct_reply_to(self) -> bool:
        """Whether consuming from ``amq.rabbitmq.reply-to`` works on this transport."""
        return True

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
