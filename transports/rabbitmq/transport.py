"""The :class:`~msgbus.transport.Transport` on pika's ``BlockingConnection``.

**Connection and channel.** One connection, one channel. When the broker closes the
channel (403, 404, 405, 406) the matching :mod:`msgbus.errors` class is raised and the
next call opens a new channel; the consumers of the closed channel become inactive. A hard
error the call provoked (503 for an unknown exchange type, ...) is raised after recovery.

**Delivery tags.** The tags handed out are the channel's tags plus an offset that grows
with every new channel, so they never repeat across channels and connections. Acking,
nacking or rejecting a tag of a channel that is gone does nothing and logs a WARNING: the
broker has already put that message back in its queue, and the tag may mean another
message on the new channel.

**Publisher confirms** are on by default (``confirm_publishes=True``): ``publish`` returns
once the broker confirmed the message, and raises :class:`~msgbus.errors.PublishNacked`
or, for a returned ``mandatory`` message, :class:`~msgbus.errors.Unroutable`. Without
confirms, returned messages go to the ``add_return_callback`` callbacks during
``process_events``, and a message whose ``publish`` returned may still be lost with the
connection. A reply to a direct reply-to address (``amq.rabbitmq.reply-to.*``, not
``mandatory``) is never waited for: RabbitMQ confirms those at once, whether or not the
caller is still there; it goes out on a second channel, without confirms. After a nack
the next publish goes on a new channel (see ``Recovery.after_nack``: on a cluster, a
channel can go on nacking everything after a quorum queue's leader died).

**Recovery.** When the connection is lost (socket drop, heartbeat timeout, node restart,
``rabbitmqctl close_all_connections``) the transport reconnects with backoff, bounded by
its :class:`~msgbus.recovery.RecoveryPolicy`, trying the URL's hosts in order;
declares again the exchanges, queues and bindings it declared (a server-named queue comes
back under a new name, with its bindings and consumers; the old name stays an alias on
this transport) and restarts its consumers. The call that saw the loss carries on:
declarations, bindings, ``get`` and ``consume`` are made again; ``process_events``
returns; settling a tag of the lost connection only logs a WARNING (the message comes
again, ``redelivered``). A ``publish`` cut off before its confirm raises
:class:`~msgbus.errors.ConnectionLost` once reconnected — publish it again if it must
arrive — unless ``republish_unconfirmed=True`` has the transport do that itself (at least
once: it may arrive twice). If recovery gives up, the call raises ``ConnectionLost`` and
the transport is closed. Listeners of ``add_connection_listener`` see every step.

**Threading.** pika's connection is not thread-safe, nor is this transport: use it from
one thread, the one running ``process_events`` (where consumer and return callbacks run;
listeners run in the call that saw the change). ``ack``, ``nack`` and ``reject`` are safe
from any thread: from another one they wait in the transport's queue of settlements, sent
by the owning thread's next ``process_events`` or by ``close()``. An ack made in a consumer
callback is held and sent with the others when the callbacks are done, as one ``multiple``
ack where that acknowledges exactly the same messages (see :mod:`._acks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from threading import get_ident
from typing import Any, Literal, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel

from msgbus import checks, errors
from msgbus.recovery import ConnectionEvent, ConnectionListener, ConnectionState, RecoveryPolicy
from msgbus.transport import Arguments, ConsumerHandle, DeliveryCallback, ReturnCallback, Transport
from msgbus.values import Delivery, ExchangeType, Properties, Publication, QueueInfo
from transports.rabbitmq import _errors
from transports.rabbitmq._acks import Acks
from transports.rabbitmq._batch import ConfirmChannel, publish_batch
from transports.rabbitmq._consumer import (
    Parked,
    RabbitMQConsumer,
    process_events,
    start_consumer,
)
from transports.rabbitmq._properties import from_pika, returned_from_pika, to_pika
from transports.rabbitmq._recovery import Recovery
from transports.rabbitmq._topology import (
    BindingDecl,
    ExchangeDecl,
    QueueDecl,
    Topology,
    declare_binding,
)
from transports.rabbitmq.url import ConnectionConfig, parse_url, resolvable

__all__ = ["RabbitMQTransport"]

log = logging.getLogger("transports.rabbitmq")
T = TypeVar("T")
AfterRecovery = Literal["retry", "raise", "ignore"]
_MAX_RETRIES = 3
_REPLY_TO = "amq.rabbitmq.reply-to."


class RabbitMQTransport(Transport):
    """A RabbitMQ connection and channel (see the module documentation for the semantics)."""

    def __init__(
        self,
        config: ConnectionConfig | None = None,
        *,
        confirm_publishes: bool = True,
        recovery: RecoveryPolicy | None = None,
        republish_unconfirmed: bool = False,
        connection_listeners: Iterable[ConnectionListener] = (),
    ) -> None:
        self._config = config if config is not None else ConnectionConfig()
        self._url = self._config.redacted_url()
        self._confirm = confirm_publishes
        self._republish = republish_unconfirmed
        self._listeners: list[ConnectionListener] = list(connection_listeners)
        self._return_callbacks: list[ReturnCallback] = []
        self._consumers: dict[str, RabbitMQConsumer] = {}
        self._topology = Topology()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._tag_base = 0  # added to the current channel's tags
        self._tag_high = 0  # the highest tag handed out so far
        self._qos = 0  # the per-consumer prefetch the channel is set to
        self._acks = Acks(self)
        self._parked = Parked()  # deliveries after a callback that raised
        self._replies: BlockingChannel | None = None  # direct reply-to, without confirms
        self._confirms: ConfirmChannel | None = None  # batches (see _batch)
        self._last_properties: Properties | None = None  # and the pika ones made of them
        self._last_pika: pika.BasicProperties | None = None
        self._closed = False
        self._owner = get_ident()
        self._recovery = Recovery(self, recovery if recovery is not None else RecoveryPolicy())
        try:
            self._params = self._config.pika_parameters()
        except OSError as exc:  # reading the TLS files
            self._closed = True
            raise errors.ValidationError(f"cannot set up TLS for {self._url}: {exc}") from exc
        try:
            self._connection = pika.BlockingConnection(resolvable(self._params))
            self._open_channel()
        except _errors.CONNECT_ERRORS as exc:
            self._closed = True
            raise self._translate(exc, connecting=True) from exc
        self._emit(ConnectionEvent(ConnectionState.CONNECTED, self._recovery.reached()))

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RabbitMQTransport:
        """Connect to an ``amqp://`` or ``amqps://`` URL (see :mod:`transports.rabbitmq.url`).

        ``options`` are the keyword arguments of the constructor: ``confirm_publishes``,
        ``recovery``, ``republish_unconfirmed``, ``connection_listeners``.
        """
        return cls(parse_url(url), **options)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<RabbitMQTransport {self._url} ({state})>"

    # -- connection state -------------------------------------------------------------

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """Call ``listener`` with a :class:`ConnectionEvent` on every change of state.

        Listeners run on the thread whose call noticed the change, in the middle of
        recovery: they should record or signal, not call the transport.
        """
        self._listeners.append(listener)

    def _emit(self, event: ConnectionEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _translate(
        self, exc: BaseException, *, connecting: bool = False, target: tuple[str, str] = ("", "")
    ) -> errors.MsgbusError:
        error = _errors.translate(exc, self._url, target)
        if isinstance(error, errors.PreconditionFailed) and self._tag_base:
            # the broker names its own tag; name the one the caller passed
            text = _errors.offset_unknown_tag(error.reply_text, self._tag_base)
            if text != error.reply_text:
                return errors.PreconditionFailed(text)
        if connecting and isinstance(error, errors.ConnectionLost):
            return errors.ConnectionLost(f"cannot connect to {self._url}: {_errors.translate(exc)}")
        return error

    def _open_channel(self) -> BlockingChannel:
        assert self._connection is not None
        channel = self._connection.channel()
        if self._confirm:
            channel.confirm_delivery()
        else:
            channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_broker_cancel)
        self._tag_base = self._tag_high
        self._qos = 0
        self._acks.reset()
        self._parked.clear()
        self._channel = channel
        return channel

    def _channel_closed(self) -> None:
        """The broker closed the channel: its consumers are gone, a new one opens next."""
        self._channel = None
        self._acks.reset()
        self._parked.clear()
        for consumer in self._consumers.values():
            consumer._stopped()
        self._consumers.clear()

    def _ensure_channel(self) -> BlockingChannel:
        channel = self._channel
        if channel is not None:
            return channel
        if self._closed:
            raise errors.ConnectionLost(f"the transport to {self._url} is closed")
        if self._connection is None or not self._connection.is_open:
            self._recovery.recover(errors.ConnectionLost("connection closed"))
            assert self._channel is not None
            return self._channel
        return self._open_channel()

    def _run(
        self,
        op: Callable[[BlockingChannel], T],
        after_recovery: AfterRecovery,
        target: tuple[str, str] = ("", ""),
    ) -> T | None:
        """Run ``op`` on the channel, translating errors and recovering as documented."""
        for _ in range(_MAX_RETRIES):
            channel: BlockingChannel | None = None
            try:
                channel = self._ensure_channel()
                if self._acks.held:  # they go before anything else the channel does
                    self._acks.flush(channel)
                return op(channel)
            except _errors.PIKA_ERRORS as exc:
                self._failed(channel, exc, after_recovery, target)
                if after_recovery == "ignore":
                    return None
        raise errors.ConnectionLost(
            f"the connection to {self._url} was lost {_MAX_RETRIES} times during one call"
        )

    def _failed(
        self,
        channel: BlockingChannel | None,
        exc: BaseException,
        after_recovery: AfterRecovery,
        target: tuple[str, str] = ("", ""),
    ) -> None:
        """Deal with a pika error raised by an operation on ``channel``.

        Raises the translated error, or returns once the connection has recovered, for the
        caller to run the operation again (``retry``) or to give up quietly (``ignore``).
        """
        reason = self._close_reason(channel, exc)
        if _errors.is_channel_error(reason):
            error = self._translate(reason)
            self._channel_closed()
            raise error from exc
        if not _errors.is_connection_loss(reason):
            if isinstance(reason, pika.exceptions.ConnectionClosedByBroker):
                self._recovery.recover(reason)
            elif isinstance(reason, pika.exceptions.NackError):
                self._recovery.after_nack(channel)
            raise self._translate(reason, target=target) from exc
        log.warning("connection to %s lost: %r", self._url, reason)
        self._recovery.recover(reason)
        if after_recovery == "raise":
            raise errors.ConnectionLost(
                f"the connection to {self._url} was lost before the broker confirmed "
                "the message; the transport has reconnected, publish it again"
            ) from exc

    def _close_reason(self, channel: BlockingChannel | None, exc: BaseException) -> BaseException:
        """The real reason behind ``exc`` (pika reports a closed channel without it)."""
        if isinstance(exc, pika.exceptions.ChannelWrongStateError):
            connection = self._connection
            if connection is None or not connection.is_open:
                lost: BaseException = pika.exceptions.ConnectionWrongStateError("closed")
                return lost
            reason = getattr(channel, "_closing_reason", None)
            if isinstance(reason, BaseException):
                return reason
        return exc

    # -- exchanges -------------------------------------------------------------------

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
        checks.require_str("exchange name", name)
        kind = checks.require_str(
            "exchange type", type.value if isinstance(type, ExchangeType) else type)
        args = checks.wire_table(arguments, "exchange arguments") or None
        self._run(
            lambda ch: ch.exchange_declare(
                name, kind, passive=passive, durable=durable, auto_delete=auto_delete,
                internal=internal, arguments=args,
            ),
            "retry",
        )
        if not passive:
            self._topology.add_exchange(
                ExchangeDecl(name, kind, durable, auto_delete, internal, args)
            )

    def delete_exchange(self, name: str, *, if_unused: bool = False) -> None:
        checks.require_str("exchange name", name)
        self._run(lambda ch: ch.exchange_delete(name, if_unused=if_unused), "retry")
        self._topology.remove_exchange(name)

    # -- queues ----------------------------------------------------------------------

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
        name = self._topology.resolve(checks.require_str("queue name", name))
        args = checks.wire_table(arguments, "queue arguments") or None
        frame = self._run(
            lambda ch: ch.queue_declare(
                name, passive=passive, durable=durable, exclusive=exclusive,
                auto_delete=auto_delete, arguments=args,
            ),
            "retry",
        )
        assert frame is not None
        ok = frame.method
        if not passive:
            self._topology.add_queue(
                QueueDecl(ok.queue, name == "", durable, exclusive, auto_delete, args)
            )
        return QueueInfo(ok.queue, ok.message_count, ok.consumer_count)

    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False) -> int:
        name = self._topology.resolve(checks.require_str("queue name", name))
        frame = self._run(
            lambda ch: ch.queue_delete(name, if_unused=if_unused, if_empty=if_empty), "retry"
        )
        assert frame is not None
        self._topology.remove_queue(name)
        count: int = frame.method.message_count
        return count

    def purge_queue(self, name: str) -> int:
        name = self._topology.resolve(checks.require_str("queue name", name))
        frame = self._run(lambda ch: ch.queue_purge(name), "retry")
        assert frame is not None
        count: int = frame.method.message_count
        return count

    # -- bindings --------------------------------------------------------------------

    def bind_queue(
        self, queue: str, exchange: str, routing_key: str = "", arguments: Arguments | None = None
    ) -> None:
        self._bind(self._binding(False, queue, exchange, routing_key, arguments))

    def unbind_queue(
        self, queue: str, exchange: str, routing_key: str = "", arguments: Arguments | None = None
    ) -> None:
        self._unbind(self._binding(False, queue, exchange, routing_key, arguments))

    def bind_exchange(
        self, destination: str, source: str, routing_key: str = "",
        arguments: Arguments | None = None,
    ) -> None:
        self._bind(self._binding(True, destination, source, routing_key, arguments))

    def unbind_exchange(
        self, destination: str, source: str, routing_key: str = "",
        arguments: Arguments | None = None,
    ) -> None:
        self._unbind(self._binding(True, destination, source, routing_key, arguments))

    def _bind(self, binding: BindingDecl) -> None:
        self._run(lambda ch: declare_binding(ch, binding), "retry")
        self._topology.add_binding(binding)

    def _unbind(self, binding: BindingDecl) -> None:
        self._run(lambda ch: declare_binding(ch, binding, remove=True), "retry")
        self._topology.remove_binding(binding)

    def _binding(self, to_exchange: bool, destination: str, source: str, routing_key: str,
                 arguments: Arguments | None) -> BindingDecl:
        checks.require_binding(destination, source, routing_key)
        if not to_exchange:
            destination = self._topology.resolve(destination)
        return BindingDecl(to_exchange, destination, source, routing_key,
                           checks.wire_table(arguments, "binding arguments") or None)

    # -- publishing ------------------------------------------------------------------

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Properties | None = None,
        *,
        mandatory: bool = False,
    ) -> None:
        if not (type(exchange) is str and type(routing_key) is str and type(body) is bytes
                and len(exchange) <= checks.SURELY_SHORT
                and len(routing_key) <= checks.SURELY_SHORT
                and exchange.isascii() and routing_key.isascii()):
            checks.require_str("exchange name", exchange)
            checks.require_str("routing key", routing_key)
            body = checks.require_body(body)
        if properties is self._last_properties:  # a producer publishes the same ones again
            pika_properties = self._last_pika
        else:
            checked = checks.require_properties(properties)
            if checked is not None and checked.headers is not None:
                checks.wire_table(checked.headers, "headers")  # what pika could not encode
            pika_properties = to_pika(properties)
            if properties is not None and properties.headers is None:  # nothing mutable
                self._last_properties, self._last_pika = properties, pika_properties
        if not exchange and self._topology.aliases:
            routing_key = self._topology.resolve(routing_key)
        mode: AfterRecovery = "retry" if self._republish else "raise"
        reply = (not exchange and not mandatory and self._confirm
                 and routing_key.startswith(_REPLY_TO))
        channel = self._channel
        if channel is not None:  # the common case, without the detour through _run
            try:
                if self._acks.held:  # acks made before it go before it
                    self._acks.flush(channel)
                if reply:
                    self._publish_reply(routing_key, body, pika_properties)
                else:
                    channel.basic_publish(exchange, routing_key, body, pika_properties,
                                          mandatory)
                return
            except _errors.PIKA_ERRORS as exc:
                self._failed(channel, exc, mode, (exchange, routing_key))
        if reply:
            self._run(lambda _: self._publish_reply(routing_key, body, pika_properties), mode,
                      (exchange, routing_key))
            return
        self._run(
            lambda ch: ch.basic_publish(exchange, routing_key, body, pika_properties, mandatory),
            mode,
            (exchange, routing_key),
        )

    def publish_batch(self, publications: Iterable[Publication], *,
                      mandatory: bool = False) -> None:
        """The messages go out together, their confirms awaited at the end; see
        :mod:`transports.rabbitmq._batch`."""
        try:
            publish_batch(self, publications, mandatory)
        except errors.PublishBatchFailed as failure:
            if any(isinstance(error, errors.PublishNacked) for _, _, error in failure.failed):
                self._recovery.after_batch_nack()
            raise

    def _publish_reply(self, routing_key: str, body: bytes, properties: Any) -> None:
        """A reply on the channel kept for them; a channel error there closes it alone."""
        channel = self._replies
        try:
            if channel is None or not channel.is_open:
                assert self._connection is not None
                channel = self._replies = self._connection.channel()
            channel.basic_publish("", routing_key, body, properties)
        except _errors.PIKA_ERRORS as exc:
            reason = self._close_reason(channel, exc)
            if not _errors.is_channel_error(reason):
                raise  # the connection: the caller's _run recovers
            self._replies = None
            raise self._translate(reason, target=("", routing_key)) from exc

    def add_return_callback(self, callback: ReturnCallback) -> None:
        self._return_callbacks.append(callback)

    def _on_return(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        returned = returned_from_pika(method, properties, body)
        for callback in list(self._return_callbacks):
            callback(returned)

    # -- consuming -------------------------------------------------------------------

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
        checks.require_consume(queue, callback, prefetch, consumer_tag, arguments)
        consumer = RabbitMQConsumer(
            self._topology.resolve(queue), callback, prefetch=prefetch, auto_ack=auto_ack,
            exclusive=exclusive, consumer_tag=consumer_tag, arguments=arguments,
            cancel=self._cancel,
        )
        self._run(lambda ch: self._start_consumer(ch, consumer), "retry")
        return consumer

    def _start_consumer(self, channel: BlockingChannel, consumer: RabbitMQConsumer) -> None:
        """basic.qos (when the prefetch differs) and basic.consume on ``channel``."""
        start_consumer(self, channel, consumer)

    def _cancel(self, consumer: RabbitMQConsumer) -> None:
        self._consumers.pop(consumer.consumer_tag, None)
        consumer._stopped()
        if self._channel is not None:
            self._run(lambda ch: ch.basic_cancel(consumer.consumer_tag), "ignore")

    def _on_broker_cancel(self, frame: Any) -> None:
        consumer = self._consumers.pop(frame.method.consumer_tag, None)
        if consumer is not None:
            consumer._stopped()

    def get(self, queue: str, *, auto_ack: bool = False) -> Delivery | None:
        queue = self._topology.resolve(checks.require_str("queue name", queue))
        result = self._run(lambda ch: (ch.basic_get(queue, auto_ack), self._tag_base), "retry")
        assert result is not None
        (method, properties, body), base = result
        if method is None:
            return None
        tag = base + method.delivery_tag
        if tag > self._tag_high:
            self._tag_high = tag
        if not auto_ack:
            self._acks.open.add(method.delivery_tag)
        return Delivery(
            body or b"", tag, method.exchange, method.routing_key, method.redelivered,
            from_pika(properties), None, method.message_count,
        )

    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """basic.ack; safe from any thread (see the module documentation)."""
        self._acks.ack(checks.require_delivery_tag(delivery_tag), multiple)

    def nack(self, delivery_tag: int, *, multiple: bool = False, requeue: bool = True) -> None:
        """basic.nack; safe from any thread (see the module documentation)."""
        self._acks.settle("nack", checks.require_delivery_tag(delivery_tag), multiple, requeue)

    def reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        """basic.reject; safe from any thread (see the module documentation)."""
        self._acks.settle("reject", checks.require_delivery_tag(delivery_tag), False, requeue)

    def process_events(self, timeout: float | None = 0.0) -> None:
        """Run callbacks; a callback's error is raised once the others pika handed out are
        parked, and the next call hands those out first (see :mod:`._consumer`)."""
        process_events(self, checks.require_timeout(timeout))  # pika would raise its own

    # -- lifecycle -------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self._closed

    @property
    def vhost(self) -> str:
        return self._config.virtual_host

    def close(self) -> None:
        if self._closed:
            return
        if self._acks.queued and self._channel is not None:  # what other threads settled
            try:
                self._acks.drain()
            except errors.MsgbusError as exc:
                log.debug("sending the last settlements to %s: %r", self._url, exc)
        self._closed = True
        channel, self._channel, self._replies, self._confirms = self._channel, None, None, None
        if channel is not None and self._acks.held:
            try:
                self._acks.flush(channel)
            except _errors.PIKA_ERRORS as exc:
                log.debug("sending the last acks to %s: %r", self._url, exc)
        self._acks.reset()
        for consumer in self._consumers.values():
            consumer._stopped()
        self._consumers.clear()
        node = self._recovery.reached()
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except _errors.PIKA_ERRORS as exc:
                log.debug("closing the connection to %s: %r", self._url, exc)
        self._emit(ConnectionEvent(ConnectionState.CLOSED, node))
