"""The broker core: sans-IO state driven by calls that mirror AMQP 0-9-1 methods.

No threads, sockets or sleeps. Every method runs to completion; what a client must be told
later (deliveries, returns, confirms, broker-side cancels) goes to its connection's outbox.
Channel errors close the channel and are raised; connection errors close the connection
and are raised. Time comes from the injected clock. The message flow (publish, deliver,
acknowledge, expire, dead-letter) lives in :mod:`transports.memory.delivery`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from msgbus.clock import Clock
from msgbus.errors import (
    AccessRefused,
    AMQPError,
    ChannelClosed,
    ChannelErrorReply,
    CommandInvalid,
    ConnectionClosed,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    ResourceLocked,
)
from transports.memory import arguments as args
from transports.memory import queue_types
from transports.memory.access import AccessControl
from transports.memory.delivery import REPLY_TO, PublishResult, random_suffix
from transports.memory.entities import (
    ChannelState,
    ConnectionState,
    ExchangeState,
    QueueState,
    VHostState,
)
from transports.memory.erlang_atoms import is_atom
from transports.memory.permissions import (
    PermissionChecks,
    check,
    check_vhost,
    exchange_argument,
)
from transports.memory.routing import router_for, validate_binding_arguments

__all__ = ["BrokerCore", "PublishResult"]

EXCHANGE_TYPES = ("direct", "fanout", "topic", "headers")
PREDECLARED = {
    "amq.direct": "direct", "amq.fanout": "fanout", "amq.topic": "topic",
    "amq.headers": "headers", "amq.match": "headers", "amq.rabbitmq.trace": "topic",
}
#: Predeclared exchanges that clients cannot publish to (RabbitMQ's firehose tracer
#: publishes to amq.rabbitmq.trace itself; a client's basic.publish gets ACCESS_REFUSED).
PREDECLARED_INTERNAL = frozenset({"amq.rabbitmq.trace"})
NO_ARGS: Mapping[str, Any] = {}


def strip_cr_lf(name: str) -> str:
    """RabbitMQ drops CR and LF from the names in declares, deletes and bindings."""
    if "\r" in name or "\n" in name:
        return name.replace("\r", "").replace("\n", "")
    return name


def _check_exchange_type(type: str) -> None:
    if type not in EXCHANGE_TYPES:
        # RabbitMQ looks the type up as an existing atom: an unknown one, or an atom that
        # names no exchange type
        word = "invalid" if is_atom(type) else "unknown"
        raise CommandInvalid(f"COMMAND_INVALID - {word} exchange type '{type}'")


def _message_count(queue: QueueState) -> int:
    """What queue.declare-ok reports: the ready messages (a stream reports none)."""
    return 0 if queue.queue_type == "stream" else len(queue.store)


def _exclusive_refusal(name: str, vhost: str) -> ResourceLocked:
    return ResourceLocked(
        f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{name}' in "
        f"vhost '{vhost}'. It could be originally declared on another connection or the "
        "exclusive property value does not match that of the original declaration.")


class BrokerCore(PermissionChecks):
    """All broker state. Not thread-safe: the driver serialises calls under one lock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.users: dict[str, str | None] = {"guest": "guest"}  # None: no password
        self.access = AccessControl()  # tags, hashes and permissions of the users
        self.connections: dict[int, ConnectionState] = {}
        self._connection_ids = itertools.count(1)
        self.add_vhost("/")

    # -- vhosts, users, connections, channels ---------------------------------------

    def add_vhost(self, name: str) -> None:
        if name in self.vhosts:
            return
        vh = VHostState(name)
        self.vhosts[name] = vh
        for xname, xtype in PREDECLARED.items():
            vh.exchanges[xname] = ExchangeState(
                xname, xtype, router_for(xtype), durable=True, auto_delete=False,
                internal=xname in PREDECLARED_INTERNAL, arguments=NO_ARGS)

    def open_connection(self, vhost: str, user: str, name: str = "") -> ConnectionState:
        if vhost not in self.vhosts:
            raise NotAllowed(f"NOT_ALLOWED - vhost {vhost} not found")
        grant = self.access.grant(vhost, user)
        check_vhost(grant, vhost, user)
        conn = ConnectionState(next(self._connection_ids), vhost, user, name, grant)
        self.connections[conn.id] = conn
        return conn

    def close_connection(self, conn: ConnectionState) -> None:
        if not conn.open:
            return
        for channel in list(conn.channels.values()):
            self.close_channel(channel)
        conn.open = False
        self.connections.pop(conn.id, None)
        vh = self.vhosts.get(conn.vhost)
        if vh is not None:
            for queue in [q for q in vh.queues.values() if q.owner == conn.id]:
                self._delete_queue(vh, queue)

    def open_channel(self, conn: ConnectionState, number: int | None = None) -> ChannelState:
        """channel.open: the client's channel ``number`` (None: the next unused one); a
        number in use is a connection error (504), as with RabbitMQ."""
        if number is None:
            while conn.next_channel in conn.channels:
                conn.next_channel += 1
            number = conn.next_channel
            conn.next_channel += 1
        elif number in conn.channels:
            self.close_connection(conn)
            raise ChannelErrorReply("CHANNEL_ERROR - second 'channel.open' seen")
        channel = ChannelState(conn, number)
        conn.channels[number] = channel
        return channel

    def close_channel(self, channel: ChannelState) -> None:
        if not channel.open:
            return
        channel.open = False
        if self.tracing:
            self._emit("channel-closed", channel.connection.vhost,
                       connection=channel.connection.id, channel=channel.id)
        channel.connection.channels.pop(channel.id, None)
        for consumer in list(channel.consumers.values()):
            self._remove_consumer(consumer, notify=False)
        self._forget_reply_to(channel)
        held = [entry.queue for entry in channel.unacked.values()]
        held += [entry.queue for taken, _ in channel.tx_acks or () for entry in taken]
        self._requeue_all(channel)
        for queue in {id(q): q for q in held}.values():
            vh = self.vhosts.get(queue.vhost)
            if vh is not None and vh.queues.get(queue.name) is queue:
                self._used(queue)  # the queue sees the channel go: its x-expires restarts

    def fail(self, channel: ChannelState, error: AMQPError) -> AMQPError:
        """Close the channel (soft error) or connection (hard error); return the error, its
        reply text cut as RabbitMQ cuts it to fit an AMQP short string (255 bytes)."""
        if isinstance(error, ConnectionClosed):
            self.close_connection(channel.connection)
        elif isinstance(error, ChannelClosed):
            self.close_channel(channel)
        raw = error.reply_text.encode("utf-8", "surrogateescape")  # names may be any bytes
        if len(raw) > 255:
            short = raw[:252].decode("utf-8", "ignore") + "..."
            return type(error)(short, error.reply_code)
        return error

    def _vhost(self, channel: ChannelState) -> VHostState:
        return self.vhosts[channel.connection.vhost]

    @staticmethod
    def _permit(channel: ChannelState, permission: str, kind: str, name: str) -> None:
        """Raise 403 unless the channel's user has ``permission`` (configure, write, read)
        on the exchange or queue ``name``."""
        check(getattr(channel.connection.grant, permission), kind, name, channel)

    # -- exchanges --------------------------------------------------------------------

    def exchange_declare(self, channel: ChannelState, name: str, type: str, *, passive: bool,
                         durable: bool, auto_delete: bool, internal: bool,
                         arguments: Mapping[str, Any]) -> None:
        self.tick()
        vh = self._vhost(channel)
        if not passive:
            _check_exchange_type(type)  # before anything else, even the name
        name = strip_cr_lf(name)
        if name == "":
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        existing = vh.exchanges.get(name)
        if passive:
            if existing is None:
                raise NotFound(f"NOT_FOUND - no exchange '{name}' in vhost '{vh.name}'")
            return
        self._permit(channel, "configure", "exchange", name)
        if existing is None:
            if name.startswith("amq."):
                raise AccessRefused(
                    f"ACCESS_REFUSED - exchange name '{name}' contains reserved prefix 'amq.*'")
            alternate = exchange_argument(arguments, "alternate-exchange")
            if alternate is not None:
                self._permit(channel, "read", "exchange", name)
                self._permit(channel, "write", "exchange", alternate)
            args.check_exchange_arguments(name, vh.name, arguments)
            vh.exchanges[name] = ExchangeState(name, type, router_for(type), durable=durable,
                                               auto_delete=auto_delete, internal=internal,
                                               arguments=arguments)
            return
        where = ("exchange", name, vh.name)
        args.check_flag("type", *where, type, existing.type)
        args.check_flag("durable", *where, durable, existing.durable)
        args.check_flag("auto_delete", *where, auto_delete, existing.auto_delete)
        args.check_flag("internal", *where, internal, existing.internal)
        args.check_exchange_equivalence(name, vh.name, arguments, existing.arguments)

    def exchange_delete(self, channel: ChannelState, name: str, *, if_unused: bool) -> None:
        self.tick()
        vh = self._vhost(channel)
        name = strip_cr_lf(name)
        if name == "":
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        if name.startswith("amq."):  # any amq.* name, whether it exists or not
            raise AccessRefused(
                f"ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '{vh.name}' "
                "not allowed")
        self._permit(channel, "configure", "exchange", name)
        exchange = vh.exchanges.get(name)
        if exchange is None:
            return
        if if_unused and len(exchange.router):
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - exchange '{name}' in vhost '{vh.name}' in use")
        self._delete_exchange(vh, exchange)

    def _delete_exchange(self, vh: VHostState, exchange: ExchangeState, *,
                         cascade: bool = True) -> None:
        del vh.exchanges[exchange.name]
        for _, _, dest in exchange.router.bindings():
            sources = vh.bound_sources.get(dest)
            if sources is not None:
                sources.discard(exchange.name)
        self._unbind_everywhere(vh, ("exchange", exchange.name), cascade=cascade)

    def _unbind_everywhere(self, vh: VHostState, dest: tuple[str, str], *,
                           cascade: bool = True) -> None:
        """Remove every binding to ``dest``; ``cascade``: an auto-delete source exchange
        left without bindings goes too (not when a restart forgets transient entities)."""
        for source_name in vh.bound_sources.pop(dest, set()):
            source = vh.exchanges.get(source_name)
            if source is not None:
                source.router.unbind_destination(dest)
                if cascade:
                    self._maybe_auto_delete(vh, source)

    def _maybe_auto_delete(self, vh: VHostState, exchange: ExchangeState) -> None:
        if exchange.auto_delete and not len(exchange.router) and exchange.name in vh.exchanges:
            self._delete_exchange(vh, exchange)

    # -- bindings ---------------------------------------------------------------------

    def _binding_ends(self, channel: ChannelState, source: str, dest: tuple[str, str],
                      routing_key: str) -> tuple[str, tuple[str, str], str]:
        """A binding's names as RabbitMQ reads them: CR/LF dropped, an empty queue name
        (and then an empty routing key) standing for the channel's last declared queue."""
        kind, name = dest
        if kind == "queue" and not name:
            name = self._last_queue(channel)
            routing_key = routing_key or name
        source, dest = strip_cr_lf(source), (kind, strip_cr_lf(name))
        self._permit(channel, "write", *dest)
        if source == "" or dest == ("exchange", ""):
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        self._permit(channel, "read", "exchange", source)
        return source, dest, routing_key

    def _missing(self, vh: VHostState, source: str, dest: tuple[str, str]) -> NotFound | None:
        """The source exchange, else the destination, that does not exist (as 404)."""
        if source not in vh.exchanges:
            return NotFound(f"NOT_FOUND - no exchange '{source}' in vhost '{vh.name}'")
        kind, name = dest
        if name not in (vh.queues if kind == "queue" else vh.exchanges):
            return NotFound(f"NOT_FOUND - no {kind} '{name}' in vhost '{vh.name}'")
        return None

    def bind(self, channel: ChannelState, dest: tuple[str, str], source: str, routing_key: str,
             arguments: Mapping[str, Any]) -> None:
        """queue.bind (dest ("queue", name)) and exchange.bind (dest ("exchange", name))."""
        self.tick()
        vh = self._vhost(channel)
        source, dest, routing_key = self._binding_ends(channel, source, dest, routing_key)
        missing = self._missing(vh, source, dest)
        if missing is not None:
            raise missing
        exchange = vh.exchanges[source]
        validate_binding_arguments(exchange.type, arguments)
        if dest[0] == "queue":
            self._check_owner(channel, vh, dest[1])
        exchange.router.bind(routing_key, arguments, dest)
        vh.bound_sources.setdefault(dest, set()).add(source)

    def unbind(self, channel: ChannelState, dest: tuple[str, str], source: str,
               routing_key: str, arguments: Mapping[str, Any]) -> None:
        """Removing a binding that is not there (or whose ends are not) is no error."""
        self.tick()
        vh = self._vhost(channel)
        source, dest, routing_key = self._binding_ends(channel, source, dest, routing_key)
        if self._missing(vh, source, dest) is not None:
            return
        exchange = vh.exchanges[source]
        if not exchange.router.has_binding(routing_key, arguments, dest):
            return
        if dest[0] == "queue":
            self._check_owner(channel, vh, dest[1])
        exchange.router.unbind(routing_key, arguments, dest)
        if not any(d == dest for _, _, d in exchange.router.bindings()):
            vh.bound_sources.get(dest, set()).discard(source)
        self._maybe_auto_delete(vh, exchange)

    # -- queues -----------------------------------------------------------------------

    def _check_owner(self, channel: ChannelState, vh: VHostState, name: str) -> None:
        queue = vh.queues.get(name)
        if queue is not None and queue.owner is not None and queue.owner != channel.connection.id:
            raise _exclusive_refusal(name, vh.name)

    def _last_queue(self, channel: ChannelState) -> str:
        """What an empty queue name means on ``channel``: its last declared queue."""
        if not channel.last_queue:
            raise NotFound("NOT_FOUND - no previously declared queue")
        return channel.last_queue

    def _queue(self, channel: ChannelState, name: str) -> QueueState:
        """The queue basic.get, basic.consume and queue.purge name (``""``: the channel's
        last declared queue), if this connection may use it."""
        if not name:
            name = self._last_queue(channel)
        return self._existing_queue(channel, name)

    def _existing_queue(self, channel: ChannelState, name: str) -> QueueState:
        vh = self._vhost(channel)
        queue = vh.queues.get(name)
        if queue is None:
            raise NotFound(f"NOT_FOUND - no queue '{name}' in vhost '{vh.name}'")
        self._check_owner(channel, vh, name)
        return queue

    def _declare_reply_to(self, channel: ChannelState, name: str) -> tuple[str, int, int]:
        """queue.declare of the direct reply-to pseudo queue (or one client's reply queue):
        it exists, with one consumer, while that consumer does."""
        target = self._reply_channels.get(name)
        if name != REPLY_TO and (target is None or not target.open
                                 or target.reply_consumer is None):
            raise NotFound(f"NOT_FOUND - no queue '{name}' in vhost '{self._vhost(channel).name}'")
        channel.last_queue = name
        return name, 0, 1

    def queue_declare(self, channel: ChannelState, name: str, *, passive: bool, durable: bool,
                      exclusive: bool, auto_delete: bool, arguments: Mapping[str, Any]
                      ) -> tuple[str, int, int]:
        self.tick()
        vh = self._vhost(channel)
        name = strip_cr_lf(name)
        if name.startswith(REPLY_TO):
            return self._declare_reply_to(channel, name)
        if passive:
            queue = self._existing_queue(channel, name)
            self._used(queue)
            channel.last_queue = name
            return queue.name, _message_count(queue), self._consumer_count(queue)
        if name == "":
            args.check_server_named(arguments)
            name = "amq.gen-" + random_suffix()
        elif name.startswith("amq."):
            raise AccessRefused(
                f"ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'")
        self._permit(channel, "configure", "queue", name)
        durable = durable and not exclusive  # an exclusive queue never survives a restart
        existing = vh.queues.get(name)
        if existing is not None:
            if existing.owner != (channel.connection.id if exclusive else None):
                raise _exclusive_refusal(name, vh.name)
            where = ("queue", name, vh.name)
            args.check_flag("durable", *where, durable, existing.durable)
            args.check_flag("auto_delete", *where, auto_delete, existing.auto_delete)
            args.check_queue_equivalence(name, vh.name, arguments, existing.arguments,
                                         existing.queue_type)
            self._used(existing)
            channel.last_queue = name
            return name, _message_count(existing), self._consumer_count(existing)
        args.check_dead_letter_exchange(name, vh.name, arguments)
        dead_letter_exchange = exchange_argument(arguments, "x-dead-letter-exchange")
        if dead_letter_exchange is not None:
            self._permit(channel, "read", "queue", name)
            self._permit(channel, "write", "exchange", dead_letter_exchange)
        queue_type = args.check_queue_arguments(name, vh.name, arguments, durable=durable,
                                                exclusive=exclusive, auto_delete=auto_delete)
        queue = QueueState(vh.name, name, durable=durable,
                           owner=channel.connection.id if exclusive else None,
                           auto_delete=auto_delete, arguments=arguments,
                           now=self.clock.monotonic(), queue_type=queue_type)
        vh.queues[name] = queue
        if queue.expires_ms is not None or queue.message_ttl is not None:
            self._watch(queue, queue.last_used + (queue.expires_ms or 0) / 1000)
        channel.last_queue = name
        return name, 0, 0

    def _consumer_count(self, queue: QueueState) -> int:
        """A queue's consumers; a quorum queue still counts a cancelled consumer while
        messages it was given are unacknowledged, and of its single active consumers counts
        only the active one."""
        if queue.queue_type != "quorum":
            return len(queue.consumers)
        active = min(len(queue.consumers), 1) if queue.single_active else len(queue.consumers)
        cancelled = {id(entry.consumer) for conn in self.connections.values()
                     for channel in conn.channels.values() for entry in channel.unacked.values()
                     if entry.queue is queue and entry.consumer is not None
                     and entry.consumer not in queue.consumers}
        return active + len(cancelled)

    def _used(self, queue: QueueState) -> None:
        """A queue.declare (passive or not) of an unused queue restarts its x-expires."""
        if queue.expires_ms is not None and not queue.consumers:
            queue.last_used = self.clock.monotonic()
            self._watch(queue, queue.last_used + queue.expires_ms / 1000)

    def queue_delete(self, channel: ChannelState, name: str, *, if_unused: bool,
                     if_empty: bool) -> int:
        self.tick()
        vh = self._vhost(channel)
        name = strip_cr_lf(name or self._last_queue(channel))
        self._permit(channel, "configure", "queue", name)
        queue = vh.queues.get(name)
        if queue is None:
            return 0
        self._check_owner(channel, vh, name)
        if if_unused and queue.consumers:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - queue '{name}' in vhost '{vh.name}' in use")
        if if_empty and len(queue.store):
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - queue '{name}' in vhost '{vh.name}' not empty")
        return self._delete_queue(vh, queue)

    def _delete_queue(self, vh: VHostState, queue: QueueState, *, cascade: bool = True) -> int:
        if vh.queues.get(queue.name) is not queue:
            return 0
        del vh.queues[queue.name]
        self._timed.discard(queue)
        self._unbind_everywhere(vh, ("queue", queue.name), cascade=cascade)
        for consumer in list(queue.consumers):
            self._remove_consumer(consumer, notify=True)
        count = len(queue.store)
        queue.store.clear()
        return count

    def queue_purge(self, channel: ChannelState, name: str) -> int:
        self.tick()
        name = name or self._last_queue(channel)
        self._permit(channel, "read", "queue", name)
        queue = self._queue(channel, name)
        if queue.queue_type != "classic":
            queue_types.check_purge(queue)
        return len(queue.store.clear())

    # -- restart ----------------------------------------------------------------------

    def restart(self) -> list[ConnectionState]:
        """A node restart: connections drop; only durable entities and persistent messages
        in durable queues remain. Returns the connections that were closed.

        As on RabbitMQ, the shutdown first closes the connections, which deletes their
        exclusive queues and the auto-delete queues that lose their last consumer, as a
        connection close does (an auto-delete exchange left without bindings goes too).
        Transient queues, exchanges and bindings are then just forgotten: an auto-delete
        exchange that was bound only to them stays, with no bindings."""
        closed = list(self.connections.values())
        owners = {conn.id for conn in closed}
        # an auto-delete queue goes with its last consumer, whose connection the shutdown
        # closes (one that never had a consumer stays, if durable)
        consumed: list[QueueState] = []
        for conn in closed:
            for channel in list(conn.channels.values()):
                channel.open = False
                conn.channels.pop(channel.id, None)
                for consumer in list(channel.consumers.values()):
                    channel.consumers.pop(consumer.tag, None)
                    if consumer in consumer.queue.consumers:
                        consumer.queue.consumers.remove(consumer)
                        consumed.append(consumer.queue)
                self._restore_tx_acks(channel)
                taken = list(channel.unacked.values())
                channel.unacked.clear()
                for entry in taken:
                    self._requeue(entry)
            conn.open = False
        self.connections.clear()
        for queue in consumed:
            vh = self.vhosts.get(queue.vhost)
            if queue.auto_delete and not queue.consumers and vh is not None:
                self._delete_queue(vh, queue)
        for vh in self.vhosts.values():
            for queue in [q for q in vh.queues.values() if q.owner in owners]:
                self._delete_queue(vh, queue)
        now = self.clock.monotonic()
        for vh in self.vhosts.values():
            for queue in list(vh.queues.values()):
                if not queue.durable or queue.exclusive:
                    self._delete_queue(vh, queue, cascade=False)
                    continue
                if queue.queue_type == "classic":  # quorum queues and streams keep all
                    kept = [qm for qm in queue.store.clear() if qm.persistent]
                    for qm in kept:
                        queue.store.append(qm)
                queue.last_used = now
            for exchange in list(vh.exchanges.values()):
                if not exchange.durable and exchange.name in vh.exchanges:
                    self._delete_exchange(vh, exchange, cascade=False)
        self._next_check = now
        self.tick()
        return closed
