"""``MemoryTransport``: the :class:`~msgbus.transport.Transport` on an in-process broker.

One connection and one channel on a :class:`~transports.memory.Broker`. Callbacks run in
:meth:`MemoryTransport.process_events`, on the calling thread, never under the broker lock,
so a single-threaded test can run producer → processor → reply deterministically. Methods
other than ``process_events`` may be called from any thread (ack from a worker included).

Acks that consumer callbacks make while ``process_events`` hands out deliveries reach the
broker together, when the callbacks are done or before anything else this transport does,
whichever comes first: in their order against the transport's other calls, as AMQP's
asynchronous acks would on one channel. Other connections may see them a little later.

As on the RabbitMQ transport (pika): cancelling a consumer that acknowledges requeues what
the broker had sent it but its callback had not been given yet; a consumer tag already in
use on the transport is a ``ValidationError``; once ``close()`` ran, calls raise
``ConnectionLost`` and settling a tag only logs a warning. Published properties arrive as
the wire would carry them (``delivery_mode`` as a ``DeliveryMode``, decimals normalised).

**Time.** While ``process_events`` waits, the broker's timers run: under the real clock a
message TTL, a per-message expiration or a queue's ``x-expires`` acts on time (a consumer
of a dead-letter queue behind a TTL queue gets the message), with a
:class:`~msgbus.clock.ManualClock` when the clock is moved.

**Recovery**, as on the RabbitMQ transport: when ``Broker.restart()`` or a connection
error (a 503 the call provoked, a forced close) closes the connection, the transport
connects again under its :class:`~msgbus.recovery.RecoveryPolicy`, declares again what it
declared and restarts its consumers (see :mod:`transports.memory.recovery`); listeners of
``add_connection_listener`` see every step. The call that saw the loss carries on, except
``publish``, which raises ``ConnectionLost`` once reconnected (publish it again) unless
``republish_unconfirmed=True``; a hard error the call provoked is raised after recovery.
Once recovery gave up, every call raises ``ConnectionLost``.

**Settlement.** A delivery tag carries its channel: tags grow across channels and
connections, and a tag of a channel that is gone only logs a WARNING. Resolving a tag and
settling it happen under the transport's lock, against which the channel is replaced, so
a tag from another thread never settles another channel's delivery; a 406 names the tag
the client sent. A callback that raises: the error reaches the caller of
``process_events``, and the next call hands out the deliveries after it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

from msgbus import checks
from msgbus.errors import (
    AMQPError,
    ChannelClosed,
    ConnectionLost,
    MsgbusError,
    PublishNacked,
    TransportError,
    Unroutable,
    ValidationError,
)
from msgbus.recovery import ConnectionEvent, ConnectionListener, ConnectionState, RecoveryPolicy
from msgbus.transport import (
    ConsumerHandle,
    DeliveryCallback,
    ReturnCallback,
    Transport,
)
from msgbus.values import (
    DELIVERY_MODES,
    EMPTY_PROPERTIES,
    Delivery,
    DeliveryMode,
    ExchangeType,
    Properties,
    Publication,
    QueueInfo,
)
from transports.memory.broker import Broker, Channel, Connection, default_broker
from transports.memory.consuming import (
    STALE,
    MemoryConsumer,
    client_tag,
    hand_out,
    if_open,
)
from transports.memory.recovery import Recovery, Topology
from transports.memory.settling import (
    CLOSED_BASE,
    SettlementQueue,
    apply_queued,
    local_tag,
    settle_elsewhere,
)

__all__ = ["MemoryTransport"]

log = logging.getLogger("transports.memory")
T = TypeVar("T")
_MAX_RETRIES = 3


class MemoryTransport(Transport):
    """A transport on ``broker`` (the process default broker when ``None``).

    ``recovery`` bounds reconnection after the connection closed (default
    :class:`~msgbus.recovery.RecoveryPolicy`; ``max_attempts=0`` disables it);
    ``connection_listeners`` are called with every :class:`~msgbus.recovery.ConnectionEvent`.
    """

    def __init__(self, broker: Broker | None = None, *, vhost: str = "/",
                 username: str = "guest", password: str = "guest",
                 confirm_publishes: bool = True, name: str = "",
                 recovery: RecoveryPolicy | None = None, republish_unconfirmed: bool = False,
                 connection_listeners: Iterable[ConnectionListener] = ()) -> None:
        self.broker = default_broker() if broker is None else checks.require_instance(
            "MemoryTransport's broker", broker, Broker, "a transports.memory.Broker or None")
        self.confirm_publishes = confirm_publishes
        self._login = (vhost, username, password, name)
        self._url = f"memory://{self.broker.name}" + ("" if vhost == "/" else f"/{vhost}")
        self._listeners: list[ConnectionListener] = list(connection_listeners)
        self._recovery = Recovery(self, recovery if recovery is not None else RecoveryPolicy())
        self._republish = republish_unconfirmed
        self._topology = Topology()
        self._connection = self.broker.connect(vhost, username=username, password=password,
                                               name=name)
        self._channel = self._connection.channel()
        self._core = self.broker._core
        # acks made by consumer callbacks while process_events hands out a batch, applied
        # together when the batch ends or before anything else this transport does
        self._held_acks: dict[int, None] = {}
        self._batching: int | None = None  # the thread handing out a batch
        self._owner = threading.get_ident()
        self._settlements = SettlementQueue()  # made on other threads (see settling)
        self._held_on: Channel | None = None  # the channel the held acks are for
        self._abandoned: Channel | None = None  # the last channel whose tags went stale
        self._tag_base = 0  # delivery tags of earlier channels are <= this
        self._consumers: dict[str, MemoryConsumer] = {}
        self._return_callbacks: list[ReturnCallback] = []
        # taken to replace the channel or connection, and to resolve and apply a settlement
        self._lock = threading.RLock()
        self._closed = False  # by close(), or recovery gave up
        self._dispatched: list[Any] = []  # the events process_events hands out last
        self._pending: list[Any] = []  # events not handed out yet: a callback raised
        self._rest: list[Any] = []  # what a DeliverMany had left when its callback raised
        # the last properties published and what they became once checked (see publish)
        self._last_properties: Properties | None = None
        self._last_checked: Properties = EMPTY_PROPERTIES
        self._emit(ConnectionEvent(ConnectionState.CONNECTED, self._url))

    def __repr__(self) -> str:
        return f"<MemoryTransport {self.broker!r} vhost={self._connection.state.vhost!r}>"

    # -- connection state -------------------------------------------------------------

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """As documented by :class:`~msgbus.transport.Transport`."""
        self._listeners.append(listener)

    def _emit(self, event: ConnectionEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _lost(self, provoked: AMQPError | None = None) -> None:
        """The connection closed under the transport (or by the hard error a call
        ``provoked``): recover, or raise ``ConnectionLost``."""
        with self._lock:
            if self._closed:
                raise self._closed_error()
            connection = self._connection
            if connection.is_open:
                return  # recovered by another thread meanwhile
            cause: MsgbusError = provoked or connection.closed_by or ConnectionLost(
                f"the connection to {self._url} was closed")
            self._abandon_channel()
            self._recovery.recover(cause)

    def _abandon_channel(self) -> None:
        """The channel is gone: its tags are stale, its held acks and events void."""
        if self._abandoned is self._channel:
            return
        self._abandoned = self._channel
        self._tag_base += self._channel.state.next_tag - 1
        self._held_acks = {}  # their messages went back to their queues with the channel
        self._pending = []

    def _reconnect(self) -> Connection:
        """For recovery: a new connection and channel (the consumers are started again)."""
        vhost, username, password, name = self._login
        connection = self.broker.connect(vhost, username=username, password=password,
                                         name=name)
        self._abandon_channel()  # a failed attempt's channel, if any
        self._connection = connection
        self._channel = connection.channel()
        return connection

    def _give_up(self) -> None:
        """Recovery failed: the transport is closed."""
        self._closed = True
        self._tag_base = CLOSED_BASE
        for consumer in self._consumers.values():
            consumer._active = False
        self._consumers.clear()

    # -- the channel ------------------------------------------------------------------

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a :class:`Channel` method on this transport's channel."""
        for _ in range(_MAX_RETRIES):
            channel = self._ready_channel()
            try:
                return method(channel, *args, **kwargs)
            except ChannelClosed:
                self._replace_channel(channel)
                raise
            except TransportError as exc:
                self._connection_failed(exc)
        raise self._unstable_error()

    def _run(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a method of the broker core on this transport's channel (the short way, for
        what runs per message)."""
        for _ in range(_MAX_RETRIES):
            channel = self._ready_channel()
            try:
                return self.broker.run_on_channel(channel.state, method, *args, **kwargs)
            except ChannelClosed:
                self._replace_channel(channel)
                raise
            except TransportError as exc:
                self._connection_failed(exc)
        raise self._unstable_error()

    def _connection_failed(self, exc: TransportError) -> None:
        """A call failed on the connection: recover, then raise the hard error the call
        provoked, or return for the call to be made again (the connection was closed by
        something else before the broker saw it)."""
        connection = self._connection
        if connection.is_open:
            raise exc
        if isinstance(exc, AMQPError) and exc is not connection.closed_by:
            self._lost(exc)
            raise exc
        self._lost()

    def _unstable_error(self) -> ConnectionLost:
        return ConnectionLost(
            f"the connection to {self._url} was lost {_MAX_RETRIES} times during one call")

    def _ready_channel(self, publishing: bool = False) -> Channel:
        """The open channel, once the acks held for it have gone to the broker; after a
        lost connection, once recovered (a publish then raises: publish it again)."""
        if self._held_acks:
            self._flush_held_acks()
        channel = self._channel
        if channel.state.open:
            return channel
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if not self._connection.is_open:
                self._lost()
                if publishing and not self._republish:
                    raise ConnectionLost(
                        f"the connection to {self._url} was lost before the message was "
                        "published; the transport has reconnected, publish it again")
            elif not self._channel.is_open:
                self._replace_channel_locked(self._channel)
            return self._channel

    def _replace_channel(self, dead: Channel) -> None:
        with self._lock:
            self._replace_channel_locked(dead)

    def _replace_channel_locked(self, dead: Channel) -> None:
        if self._channel is not dead or not self._connection.is_open:
            return
        self._abandon_channel()
        for consumer in self._consumers.values():
            consumer._active = False
        self._consumers.clear()
        self._channel = self._connection.channel()

    def _closed_error(self) -> ConnectionLost:
        return ConnectionLost(f"the transport to {self._url} is closed")

    # -- exchanges, queues, bindings --------------------------------------------------

    def declare_exchange(self, name: str, type: ExchangeType | str = ExchangeType.DIRECT, *,
                         passive: bool = False, durable: bool = False,
                         auto_delete: bool = False, internal: bool = False,
                         arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_str("exchange name", name)
        exchange_type = type.value if isinstance(type, ExchangeType) else type
        checks.require_str("exchange type", exchange_type)
        table = checks.wire_table(arguments, "exchange arguments")
        self._call(Channel.exchange_declare, name, exchange_type, passive=passive,
                   durable=durable, auto_delete=auto_delete, internal=internal,
                   arguments=table)
        if not passive:
            self._topology.add_exchange(name, exchange_type=exchange_type, durable=durable,
                                        auto_delete=auto_delete, internal=internal,
                                        arguments=table)

    def delete_exchange(self, name: str, *, if_unused: bool = False) -> None:
        checks.require_str("exchange name", name)
        self._call(Channel.exchange_delete, name, if_unused=if_unused)
        self._topology.remove_exchange(name)

    def declare_queue(self, name: str = "", *, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: Mapping[str, Any] | None = None) -> QueueInfo:
        name = self._topology.resolve(checks.require_str("queue name", name))
        table = checks.wire_table(arguments, "queue arguments")
        queue, messages, consumers = self._call(
            Channel.queue_declare, name, passive=passive, durable=durable, exclusive=exclusive,
            auto_delete=auto_delete, arguments=table)
        if not passive:
            self._topology.add_queue(queue, name == "", durable=durable, exclusive=exclusive,
                                     auto_delete=auto_delete, arguments=table)
        return QueueInfo(queue, messages, consumers)

    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False
                     ) -> int:
        name = self._topology.resolve(checks.require_str("queue name", name))
        count = self._call(Channel.queue_delete, name, if_unused=if_unused, if_empty=if_empty)
        self._topology.remove_queue(name)
        return count

    def purge_queue(self, name: str) -> int:
        name = self._topology.resolve(checks.require_str("queue name", name))
        return self._call(Channel.queue_purge, name)

    def bind_queue(self, queue: str, exchange: str, routing_key: str = "",
                   arguments: Mapping[str, Any] | None = None) -> None:
        self._bind(False, queue, exchange, routing_key, arguments, bound=True)

    def unbind_queue(self, queue: str, exchange: str, routing_key: str = "",
                     arguments: Mapping[str, Any] | None = None) -> None:
        self._bind(False, queue, exchange, routing_key, arguments, bound=False)

    def bind_exchange(self, destination: str, source: str, routing_key: str = "",
                      arguments: Mapping[str, Any] | None = None) -> None:
        self._bind(True, destination, source, routing_key, arguments, bound=True)

    def unbind_exchange(self, destination: str, source: str, routing_key: str = "",
                        arguments: Mapping[str, Any] | None = None) -> None:
        self._bind(True, destination, source, routing_key, arguments, bound=False)

    def _bind(self, to_exchange: bool, destination: str, source: str, routing_key: str,
              arguments: Mapping[str, Any] | None, *, bound: bool) -> None:
        checks.require_binding(destination, source, routing_key)
        if not to_exchange:
            destination = self._topology.resolve(destination)
        table = checks.wire_table(arguments, "binding arguments")
        method: Callable[..., None]
        if to_exchange:
            method = Channel.exchange_bind if bound else Channel.exchange_unbind
        else:
            method = Channel.queue_bind if bound else Channel.queue_unbind
        self._call(method, destination, source, routing_key, table)
        self._topology.binding(to_exchange, destination, source, routing_key, table,
                               bound=bound)

    # -- publishing -------------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, body: bytes,
                properties: Properties | None = None, *, mandatory: bool = False) -> None:
        if not (type(exchange) is str and type(routing_key) is str and type(body) is bytes
                and len(exchange) <= checks.SURELY_SHORT
                and len(routing_key) <= checks.SURELY_SHORT
                and exchange.isascii() and routing_key.isascii()):
            checks.require_str("exchange name", exchange)
            checks.require_str("routing key", routing_key)
            body = checks.require_body(body)
        if properties is None:
            properties = EMPTY_PROPERTIES
        elif properties is self._last_properties:  # a producer publishes the same ones again
            properties = self._last_checked
        else:
            properties = self._checked_properties(properties)
        if not exchange and self._topology.aliases:
            routing_key = self._topology.resolve(routing_key)
        if self._held_acks or not self._channel.state.open:
            self._ready_channel(publishing=True)
        confirm = self.confirm_publishes
        result = self._run(self._core.basic_publish, exchange, routing_key, body, properties,
                           mandatory=mandatory and not confirm)
        if confirm:
            if mandatory and not result.routed:
                raise Unroutable(exchange, routing_key)
            if result.nacked:
                raise PublishNacked(exchange, routing_key)

    def _checked_properties(self, properties: Properties) -> Properties:
        """``properties`` as they arrive: checked, headers as encoded, ``delivery_mode`` a
        :class:`DeliveryMode`; kept for the next publish when nothing in them is mutable."""
        p = checks.require_properties(properties)
        assert p is not None
        headers, mode = p.headers, p.delivery_mode
        if headers is None and (mode is None or type(mode) is DeliveryMode):
            checked = p
        else:  # positional, in the AMQP order: dataclasses.replace costs twice as much
            checked = Properties(
                p.content_type, p.content_encoding,
                checks.wire_table(headers, "headers") if headers is not None else None,
                DELIVERY_MODES.get(mode, mode) if mode is not None else None, p.priority,
                p.correlation_id, p.reply_to, p.expiration, p.message_id, p.timestamp, p.type,
                p.user_id, p.app_id, p.cluster_id)
        if headers is None:
            self._last_properties, self._last_checked = p, checked
        return checked

    def publish_batch(self, publications: Iterable[Publication], *,
                      mandatory: bool = False) -> None:
        """As documented by :class:`~msgbus.transport.Transport`: one message after the
        other (confirms come at once here)."""
        batch = checks.require_publications(publications)
        if not batch:
            return
        if self._closed:
            raise self._closed_error()
        self._publish_one_by_one(batch, mandatory, confirmed=self.confirm_publishes)

    def add_return_callback(self, callback: ReturnCallback) -> None:
        self._return_callbacks.append(callback)

    # -- consuming --------------------------------------------------------------------

    def consume(self, queue: str, callback: DeliveryCallback, *, prefetch: int = 0,
                auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                arguments: Mapping[str, Any] | None = None) -> ConsumerHandle:
        checks.require_consume(queue, callback, prefetch, consumer_tag, arguments)
        queue = self._topology.resolve(queue)
        if consumer_tag and consumer_tag in self._consumers:  # nothing is sent, as with pika
            raise ValidationError(f"consumer tag {consumer_tag!r} is already in use")
        table = checks.wire_table(arguments, "consumer arguments")
        channel = self._ready_channel()
        self._call(Channel.basic_qos, prefetch)
        tag = self._call(Channel.basic_consume, queue, consumer_tag, no_ack=auto_ack,
                         exclusive=exclusive, arguments=table)
        handle = MemoryConsumer(self, self._channel, tag, queue, callback, auto_ack, prefetch,
                           exclusive, table)
        if self._channel is not channel:  # recovered meanwhile: started on the new one
            handle._channel = self._channel
        self._consumers[tag] = handle
        return handle

    def get(self, queue: str, *, auto_ack: bool = False) -> Delivery | None:
        queue = self._topology.resolve(checks.require_str("queue name", queue))
        with self._lock:  # the tag and the channel it is for go together
            delivery = self._call(Channel.basic_get, queue, no_ack=auto_ack)
            if delivery is None or not self._tag_base:
                return delivery
            return dataclasses.replace(delivery,
                                       delivery_tag=delivery.delivery_tag + self._tag_base)

    # -- settling -----------------------------------------------------------------------

    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        if settle_elsewhere(self, "ack", delivery_tag, multiple, True):
            return
        with self._lock:
            channel, base = self._channel, self._tag_base
            tag = local_tag(self, delivery_tag, "ack", base)
            if tag is None:
                return
            held = self._held_acks
            if (not multiple and self._batching == threading.get_ident()
                    and tag not in held and tag in channel.state.unacked
                    and (not held or self._held_on is channel)):
                if not held:
                    self._held_on = channel
                held[tag] = None
                return
            self._settle(channel, base, "ack", self._core.basic_ack, tag, multiple=multiple)

    def nack(self, delivery_tag: int, *, multiple: bool = False, requeue: bool = True) -> None:
        self._refuse("nack", delivery_tag, multiple, requeue)

    def reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        self._refuse("reject", delivery_tag, False, requeue)

    def _refuse(self, verb: str, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        """nack and reject (a reject is a nack of one delivery)."""
        if settle_elsewhere(self, verb, delivery_tag, multiple, requeue):
            return
        with self._lock:
            channel, base = self._channel, self._tag_base
            tag = local_tag(self, delivery_tag, verb, base)
            if tag is not None:
                self._settle(channel, base, verb, self._core.basic_nack, tag,
                             multiple=multiple, requeue=requeue)

    def _settle(self, channel: Channel, base: int, action: str, method: Callable[..., Any],
                tag: int, **kwargs: Any) -> None:
        """Apply a settlement of the channel's ``tag`` on ``channel`` (the transport's
        lock is held: the channel is not replaced meanwhile), or warn when that channel
        closed before the broker saw it."""
        if self._held_acks:
            self._flush_held_acks()
        if not channel.state.open or channel is not self._channel:
            self._warn_stale(action, tag + base)
            if not self._closed:
                self._ready_channel()  # a new channel, or a recovered connection
            return
        try:
            result = self.broker.run_on_channel(channel.state, if_open, method, tag, **kwargs)
        except ChannelClosed as exc:
            self._replace_channel(channel)
            raise client_tag(exc, base) from None
        except TransportError as exc:
            self._connection_failed(exc)
            result = STALE
        if result is STALE:
            self._warn_stale(action, tag + base)

    def _warn_stale(self, action: str, delivery_tag: int) -> None:
        log.warning("ignoring %s of delivery tag %d: it belongs to a closed channel (the "
                    "message was returned to its queue)", action, delivery_tag)

    def _flush_held_acks(self) -> None:
        """Send the held acks, if this is the thread that holds them (another thread's
        calls are not ordered against them anyway)."""
        if self._held_acks and self._batching == threading.get_ident():
            self._flush_acks()

    def _flush_acks(self) -> None:
        with self._lock:
            tags = list(self._held_acks)
            self._held_acks = {}
            channel = self._channel
            if channel is not self._held_on or not channel.state.open:
                return  # closed meanwhile: the messages went back to their queues
            try:
                self.broker.run_on_channel(channel.state, self._core.basic_ack_each, tags)
            except ChannelClosed as exc:
                self._replace_channel(channel)
                raise client_tag(exc, self._tag_base) from None

    # -- events -------------------------------------------------------------------------

    def process_events(self, timeout: float | None = 0.0) -> None:
        timeout = checks.require_timeout(timeout)
        if self._closed:
            raise self._closed_error()
        if self._held_acks:  # a callback processing events itself
            self._flush_held_acks()
        if self._pending:  # what a raising callback left: handed out first
            events, self._pending = self._pending, []
            hand_out(self, events)
            return
        connection = self._connection
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._settlements:  # a worker thread settled and woke us
                self._settlements.drain(partial(apply_queued, self))
            events = connection.drain()
            if events:
                hand_out(self, events)
                if self._settlements:  # what worker threads settled meanwhile
                    self._settlements.drain(partial(apply_queued, self))
                return
            if not connection.is_open:
                if connection is self._connection:
                    self._ready_channel()  # recover, or raise ConnectionLost
                return
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not connection.wait(remaining):  # also runs the broker's timers
                return

    # -- lifecycle --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self._closed

    @property
    def vhost(self) -> str:
        return self._connection.state.vhost

    def close(self) -> None:
        if self._settlements and not self._closed:  # a worker's acks are sent, not dropped
            self._settlements.drain(partial(apply_queued, self))
        with self._lock:
            if self._closed:
                return
            if self._held_acks and self._connection.is_open:
                self._flush_acks()
            self._closed = True
            self._tag_base = CLOSED_BASE
            self._connection.close()
            for consumer in self._consumers.values():
                consumer._active = False
            self._consumers.clear()
            self._pending = []
        self._emit(ConnectionEvent(ConnectionState.CLOSED, self._url))
