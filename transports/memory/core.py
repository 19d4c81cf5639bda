"""The broker core: sans-IO state driven by calls that mirror AMQP 0-9-1 methods.

No threads, sockets or sleeps. Every method runs to completion; what a client must be told
later (deliveries, returns, confirms, broker-side cancels) goes to its connection's outbox.
Channel errors close the channel and are raised; connection errors close the connection
and are raised. Time comes from the injected clock.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msgbus.clock import Clock
from msgbus.errors import (
    AccessRefused,
    AMQPError,
    ChannelClosed,
    CommandInvalid,
    ConnectionClosed,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    ResourceLocked,
)
from msgbus.values import Delivery, Properties, ReturnedMessage
from transports.memory import arguments as args
from transports.memory.deadletter import dead_lettered, is_cycle
from transports.memory.entities import (
    ChannelState,
    ConnectionState,
    ConsumerCancelled,
    ConsumerState,
    Deliver,
    ExchangeState,
    PublishConfirm,
    QueueState,
    Return,
    Unacked,
    VHostState,
)
from transports.memory.events import BrokerEvent
from transports.memory.queue import Message, QueuedMessage
from transports.memory.routing import router_for, validate_binding_arguments

__all__ = ["BrokerCore", "PublishResult"]

EXCHANGE_TYPES = ("direct", "fanout", "topic", "headers")
PREDECLARED = {
    "amq.direct": "direct", "amq.fanout": "fanout", "amq.topic": "topic",
    "amq.headers": "headers", "amq.match": "headers",
}
NO_ARGS: Mapping[str, Any] = {}
REPLY_TO = "amq.rabbitmq.reply-to"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What became of a publish: queues reached, returned (mandatory), refused (nack)."""

    routed: int
    returned: bool
    nacked: bool
    sequence: int | None = None


def _random_suffix() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


class BrokerCore:
    """All broker state. Not thread-safe: the driver serialises calls under one lock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.vhosts: dict[str, VHostState] = {}
        self.users: dict[str, str] = {"guest": "guest"}
        self.connections: dict[int, ConnectionState] = {}
        self._connection_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._timed: set[QueueState] = set()
        self._next_check = float("inf")
        self._reply_channels: dict[str, ChannelState] = {}
        self.tracing = False
        self.events: list[BrokerEvent] = []
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
                internal=False, arguments=NO_ARGS)

    def open_connection(self, vhost: str, user: str, name: str = "") -> ConnectionState:
        if vhost not in self.vhosts:
            raise NotAllowed(f"NOT_ALLOWED - vhost {vhost} not found")
        conn = ConnectionState(next(self._connection_ids), vhost, user, name)
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

    def open_channel(self, conn: ConnectionState) -> ChannelState:
        channel = ChannelState(conn, conn.next_channel)
        conn.next_channel += 1
        conn.channels[channel.id] = channel
        return channel

    def close_channel(self, channel: ChannelState) -> None:
        if not channel.open:
            return
        channel.open = False
        channel.connection.channels.pop(channel.id, None)
        for consumer in list(channel.consumers.values()):
            self._remove_consumer(consumer, notify=False)
        self._forget_reply_to(channel)
        self._requeue_all(channel)

    def _forget_reply_to(self, channel: ChannelState) -> None:
        if channel.reply_token is not None:
            self._reply_channels.pop(channel.reply_token, None)
        channel.reply_consumer = channel.reply_token = None

    def fail(self, channel: ChannelState, error: AMQPError) -> AMQPError:
        """Close the channel (soft error) or connection (hard error); return the error."""
        if isinstance(error, ConnectionClosed):
            self.close_connection(channel.connection)
        elif isinstance(error, ChannelClosed):
            self.close_channel(channel)
        return error

    def _vhost(self, channel: ChannelState) -> VHostState:
        return self.vhosts[channel.connection.vhost]

    # -- exchanges --------------------------------------------------------------------

    def exchange_declare(self, channel: ChannelState, name: str, type: str, *, passive: bool,
                         durable: bool, auto_delete: bool, internal: bool,
                         arguments: Mapping[str, Any]) -> None:
        self.tick()
        vh = self._vhost(channel)
        if name == "":
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        existing = vh.exchanges.get(name)
        if passive:
            if existing is None:
                raise NotFound(f"NOT_FOUND - no exchange '{name}' in vhost '{vh.name}'")
            return
        if type not in EXCHANGE_TYPES:
            raise CommandInvalid(f"COMMAND_INVALID - invalid exchange type '{type}'")
        if name.startswith("amq.") and existing is None:
            raise AccessRefused(
                f"ACCESS_REFUSED - exchange name '{name}' contains reserved prefix 'amq.*'")
        args.check_exchange_arguments(name, vh.name, arguments)
        if existing is not None:
            where = ("exchange", name, vh.name)
            args.check_flag("type", *where, type, existing.type)
            args.check_flag("durable", *where, durable, existing.durable)
            args.check_flag("auto_delete", *where, auto_delete, existing.auto_delete)
            args.check_flag("internal", *where, internal, existing.internal)
            args.check_exchange_equivalence(name, vh.name, arguments, existing.arguments)
            return
        vh.exchanges[name] = ExchangeState(name, type, router_for(type), durable=durable,
                                           auto_delete=auto_delete, internal=internal,
                                           arguments=arguments)

    def exchange_delete(self, channel: ChannelState, name: str, *, if_unused: bool) -> None:
        self.tick()
        vh = self._vhost(channel)
        if name == "":
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        if name.startswith("amq.") and name in PREDECLARED:
            raise AccessRefused(
                f"ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '{vh.name}' "
                "not allowed")
        exchange = vh.exchanges.get(name)
        if exchange is None:
            return
        if if_unused and (len(exchange.router) or vh.bound_sources.get(("exchange", name))):
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - exchange '{name}' in vhost '{vh.name}' in use")
        self._delete_exchange(vh, exchange)

    def _delete_exchange(self, vh: VHostState, exchange: ExchangeState) -> None:
        del vh.exchanges[exchange.name]
        for _, _, dest in exchange.router.bindings():
            sources = vh.bound_sources.get(dest)
            if sources is not None:
                sources.discard(exchange.name)
        self._unbind_everywhere(vh, ("exchange", exchange.name))

    def _unbind_everywhere(self, vh: VHostState, dest: tuple[str, str]) -> None:
        for source_name in vh.bound_sources.pop(dest, set()):
            source = vh.exchanges.get(source_name)
            if source is not None:
                source.router.unbind_destination(dest)
                self._maybe_auto_delete(vh, source)

    def _maybe_auto_delete(self, vh: VHostState, exchange: ExchangeState) -> None:
        if exchange.auto_delete and not len(exchange.router) and exchange.name in vh.exchanges:
            self._delete_exchange(vh, exchange)

    # -- bindings ---------------------------------------------------------------------

    def _binding_ends(self, vh: VHostState, source: str, dest: tuple[str, str]
                      ) -> ExchangeState:
        if source == "" or dest == ("exchange", ""):
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        kind, name = dest
        if kind == "queue":
            queue = vh.queues.get(name)
            if queue is None:
                raise NotFound(f"NOT_FOUND - no queue '{name}' in vhost '{vh.name}'")
        elif name not in vh.exchanges:
            raise NotFound(f"NOT_FOUND - no exchange '{name}' in vhost '{vh.name}'")
        exchange = vh.exchanges.get(source)
        if exchange is None:
            raise NotFound(f"NOT_FOUND - no exchange '{source}' in vhost '{vh.name}'")
        return exchange

    def bind(self, channel: ChannelState, dest: tuple[str, str], source: str, routing_key: str,
             arguments: Mapping[str, Any]) -> None:
        """queue.bind (dest ("queue", name)) and exchange.bind (dest ("exchange", name))."""
        self.tick()
        vh = self._vhost(channel)
        if dest[0] == "queue":
            self._check_owner(channel, vh, dest[1])
        exchange = self._binding_ends(vh, source, dest)
        validate_binding_arguments(exchange.type, arguments)
        exchange.router.bind(routing_key, arguments, dest)
        vh.bound_sources.setdefault(dest, set()).add(source)

    def unbind(self, channel: ChannelState, dest: tuple[str, str], source: str,
               routing_key: str, arguments: Mapping[str, Any]) -> None:
        self.tick()
        vh = self._vhost(channel)
        if source == "" or dest == ("exchange", ""):
            raise AccessRefused("ACCESS_REFUSED - operation not permitted on the default exchange")
        if dest[0] == "queue":
            self._check_owner(channel, vh, dest[1])
        exchange = vh.exchanges.get(source)
        if exchange is None or not exchange.router.unbind(routing_key, arguments, dest):
            return
        if not any(d == dest for _, _, d in exchange.router.bindings()):
            vh.bound_sources.get(dest, set()).discard(source)
        self._maybe_auto_delete(vh, exchange)

    # -- queues -----------------------------------------------------------------------

    def _check_owner(self, channel: ChannelState, vh: VHostState, name: str) -> None:
        queue = vh.queues.get(name)
        if queue is not None and queue.owner is not None and queue.owner != channel.connection.id:
            raise ResourceLocked(
                f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{name}' in "
                f"vhost '{vh.name}'. It could be originally declared on another connection or "
                "the exclusive property value does not match that of the original declaration.")

    def _queue(self, channel: ChannelState, name: str) -> QueueState:
        vh = self._vhost(channel)
        queue = vh.queues.get(name)
        if queue is None:
            raise NotFound(f"NOT_FOUND - no queue '{name}' in vhost '{vh.name}'")
        self._check_owner(channel, vh, name)
        return queue

    def queue_declare(self, channel: ChannelState, name: str, *, passive: bool, durable: bool,
                      exclusive: bool, auto_delete: bool, arguments: Mapping[str, Any]
                      ) -> tuple[str, int, int]:
        self.tick()
        vh = self._vhost(channel)
        if passive:
            queue = self._queue(channel, name)
            return queue.name, len(queue.store), len(queue.consumers)
        if name == "":
            name = "amq.gen-" + _random_suffix()
        elif name.startswith("amq."):
            raise AccessRefused(
                f"ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'")
        existing = vh.queues.get(name)
        if existing is not None:
            self._check_owner(channel, vh, name)
            if existing.exclusive != exclusive:
                raise ResourceLocked(
                    f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{name}' "
                    f"in vhost '{vh.name}'. It could be originally declared on another "
                    "connection or the exclusive property value does not match that of the "
                    "original declaration.")
            where = ("queue", name, vh.name)
            args.check_flag("durable", *where, durable, existing.durable)
            args.check_flag("auto_delete", *where, auto_delete, existing.auto_delete)
            args.check_queue_equivalence(name, vh.name, arguments, existing.arguments)
            existing.last_used = self.clock.monotonic()
            return name, len(existing.store), len(existing.consumers)
        args.check_queue_arguments(name, vh.name, arguments, durable=durable)
        queue = QueueState(vh.name, name, durable=durable,
                           owner=channel.connection.id if exclusive else None,
                           auto_delete=auto_delete, arguments=arguments,
                           now=self.clock.monotonic())
        vh.queues[name] = queue
        if queue.expires_ms is not None or queue.message_ttl is not None:
            self._watch(queue, queue.last_used + (queue.expires_ms or 0) / 1000)
        return name, 0, 0

    def queue_delete(self, channel: ChannelState, name: str, *, if_unused: bool,
                     if_empty: bool) -> int:
        self.tick()
        vh = self._vhost(channel)
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

    def _delete_queue(self, vh: VHostState, queue: QueueState) -> int:
        if vh.queues.get(queue.name) is not queue:
            return 0
        del vh.queues[queue.name]
        self._timed.discard(queue)
        self._unbind_everywhere(vh, ("queue", queue.name))
        for consumer in list(queue.consumers):
            self._remove_consumer(consumer, notify=True)
        count = len(queue.store)
        queue.store.clear()
        return count

    def queue_purge(self, channel: ChannelState, name: str) -> int:
        self.tick()
        queue = self._queue(channel, name)
        return len(queue.store.clear())

    # -- publishing and routing -------------------------------------------------------

    def basic_publish(self, channel: ChannelState, exchange: str, routing_key: str, body: bytes,
                      properties: Properties, *, mandatory: bool) -> PublishResult:
        self.tick()
        vh = self._vhost(channel)
        if exchange:
            x = vh.exchanges.get(exchange)
            if x is None:
                raise NotFound(f"NOT_FOUND - no exchange '{exchange}' in vhost '{vh.name}'")
            if x.internal:
                raise AccessRefused(
                    f"ACCESS_REFUSED - cannot publish to internal exchange '{exchange}' in "
                    f"vhost '{vh.name}'")
        user = channel.connection.user
        if properties.user_id is not None and properties.user_id != user:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - user_id property set to '{properties.user_id}' but "
                f"authenticated user was '{user}'")
        args.parse_expiration(properties.expiration)
        if properties.reply_to == REPLY_TO:
            if channel.reply_token is None:
                raise PreconditionFailed(
                    "PRECONDITION_FAILED - fast reply consumer does not exist")
            properties = dataclasses.replace(properties, reply_to=channel.reply_token)
        if not exchange and routing_key.startswith(REPLY_TO + "."):
            delivered = self._publish_reply(channel, routing_key, body, properties)
            return self._confirm(channel, exchange, routing_key, body, properties,
                                 routed=delivered, mandatory=mandatory, accepted=True)
        keys = [routing_key]
        headers = properties.headers
        if headers and ("CC" in headers or "BCC" in headers):
            for header in ("CC", "BCC"):
                extra = headers.get(header)
                if isinstance(extra, (list, tuple)):
                    keys.extend(k.decode() if isinstance(k, bytes) else str(k) for k in extra)
            if "BCC" in headers:
                properties = dataclasses.replace(
                    properties, headers={k: v for k, v in headers.items() if k != "BCC"})
        message = Message(body, exchange, routing_key, properties)
        if self.tracing:
            self._emit("published", vh.name, exchange=exchange, routing_key=routing_key,
                       body=body, properties=properties)
        queues = self._route(vh, exchange, keys, properties.headers)
        if self.tracing:
            self._emit("routed", vh.name, exchange=exchange, routing_key=routing_key,
                       queues=tuple(q.name for q in queues))
        accepted = True
        for queue in queues:
            accepted = self._enqueue(queue, message) and accepted
        return self._confirm(channel, exchange, routing_key, body, properties,
                             routed=len(queues), mandatory=mandatory, accepted=accepted)

    def _confirm(self, channel: ChannelState, exchange: str, routing_key: str, body: bytes,
                 properties: Properties, *, routed: int, mandatory: bool, accepted: bool
                 ) -> PublishResult:
        """Return an unroutable mandatory message and confirm the publish, as RabbitMQ does:
        basic.return first, then basic.ack (or basic.nack when a queue refused it)."""
        returned = mandatory and not routed
        if returned:
            channel.connection.outbox.append(Return(channel.id, ReturnedMessage(
                body, exchange, routing_key, 312, "NO_ROUTE", properties)))
            if self.tracing:
                self._emit("returned", channel.connection.vhost, exchange=exchange,
                           routing_key=routing_key, reason="312 NO_ROUTE")
        sequence = None
        if channel.confirm:
            sequence = channel.next_publish_seq
            channel.next_publish_seq += 1
            channel.connection.outbox.append(PublishConfirm(channel.id, sequence, accepted))
        return PublishResult(routed, returned, not accepted, sequence)

    def confirm_select(self, channel: ChannelState) -> None:
        channel.confirm = True

    def _route(self, vh: VHostState, exchange: str, keys: list[str],
               headers: Mapping[str, Any] | None) -> list[QueueState]:
        found: dict[str, QueueState] = {}
        if exchange == "":
            for key in keys:
                queue = vh.queues.get(key)
                if queue is not None:
                    found[key] = queue
            return list(found.values())
        seen: set[str] = set()
        work = [exchange]
        while work:
            name = work.pop()
            if name in seen:
                continue
            seen.add(name)
            x = vh.exchanges.get(name)
            if x is None:
                continue
            dests: set[tuple[str, str]] = set()
            for key in keys:
                dests |= x.router.route(key, headers)
            if not dests:
                ae = x.arguments.get("alternate-exchange")
                if isinstance(ae, bytes):
                    ae = ae.decode()
                if isinstance(ae, str):
                    work.append(ae)
                continue
            for kind, dest in sorted(dests):
                if kind == "queue":
                    queue = vh.queues.get(dest)
                    if queue is not None:
                        found[dest] = queue
                else:
                    work.append(dest)
        return list(found.values())

    def _enqueue(self, queue: QueueState, message: Message) -> bool:
        """Put a routed message in ``queue``; False when the queue refused it (overflow)."""
        now = self.clock.monotonic()
        ttl = queue.message_ttl
        per_message = args.parse_expiration(message.properties.expiration)
        if per_message is not None:
            ttl = per_message if ttl is None else min(ttl, per_message)
        queued = QueuedMessage(next(self._seq), message,
                               None if ttl is None else now + ttl / 1000)
        if not len(queue.store):
            consumer = self._pick_consumer(queue)
            if consumer is not None:
                self._deliver(consumer, queued)
                return True
        if ttl == 0:
            self._dead_letter(queue, queued, "expired")
            return True
        if queue.overflow != "drop-head" and queue.over_limit(1, queued.size):
            if queue.overflow == "reject-publish-dlx":
                self._dead_letter(queue, queued, "maxlen")
            elif self.tracing:
                self._emit("dropped", queue.vhost, queue=queue.name, reason="overflow")
            return False
        queue.store.append(queued)
        if queued.expires_at is not None:
            self._watch(queue, queued.expires_at)
        while queue.over_limit():
            head = queue.store.pop()
            if head is None:
                break
            self._dead_letter(queue, head, "maxlen")
        return True

    # -- dead-lettering and expiry ----------------------------------------------------

    def _dead_letter(self, queue: QueueState, queued: QueuedMessage, reason: str) -> None:
        if self.tracing:
            kind = "expired" if reason == "expired" else "rejected" if reason == "rejected" \
                else "dropped"
            self._emit(kind, queue.vhost, queue=queue.name, reason=reason)
        if queue.dead_letter_exchange is None:
            return
        vh = self.vhosts.get(queue.vhost)
        if vh is None:
            return
        message, keys = dead_lettered(queued, queue, reason, self.clock.time())
        if message.exchange and message.exchange not in vh.exchanges:
            return
        deaths = (message.properties.headers or {}).get("x-death") or []
        targets = [q for q in self._route(vh, message.exchange, keys, message.properties.headers)
                   if not is_cycle(reason, deaths, q.name)]
        if self.tracing:
            self._emit("dead-lettered", queue.vhost, queue=queue.name, reason=reason,
                       exchange=message.exchange, routing_key=message.routing_key,
                       queues=tuple(q.name for q in targets))
        for target in targets:
            self._enqueue(target, message)

    def _watch(self, queue: QueueState, deadline: float) -> None:
        self._timed.add(queue)
        self._next_check = min(self._next_check, deadline)

    def tick(self) -> None:
        """Expire messages and queues whose time has come (called by every operation)."""
        now = self.clock.monotonic()
        if now < self._next_check:
            return
        self._next_check = next_check = float("inf")
        for queue in list(self._timed):
            for expired in queue.store.pop_expired(now):
                self._dead_letter(queue, expired, "expired")
            deadline = queue.store.next_expiry()
            if queue.expires_ms is not None and not queue.consumers:
                unused_until = queue.last_used + queue.expires_ms / 1000
                if unused_until <= now:
                    vh = self.vhosts.get(queue.vhost)
                    if vh is not None:
                        self._delete_queue(vh, queue)
                    continue
                deadline = unused_until if deadline is None else min(deadline, unused_until)
            if deadline is None and queue.message_ttl is None and queue.expires_ms is None:
                self._timed.discard(queue)
            elif deadline is not None:
                next_check = min(next_check, deadline)
        self._next_check = min(self._next_check, next_check)

    # -- consumers and delivery -------------------------------------------------------

    def basic_qos(self, channel: ChannelState, prefetch_count: int, *, global_: bool) -> None:
        if global_:
            channel.global_prefetch = prefetch_count
            for consumer in list(channel.consumers.values()):
                self._dispatch(consumer.queue)
        else:
            channel.prefetch = prefetch_count

    def basic_consume(self, channel: ChannelState, queue_name: str, consumer_tag: str, *,
                      no_ack: bool, exclusive: bool, arguments: Mapping[str, Any]) -> str:
        self.tick()
        if queue_name == REPLY_TO:
            return self._consume_reply_to(channel, consumer_tag, no_ack=no_ack)
        queue = self._queue(channel, queue_name)
        vh = self._vhost(channel)
        args.check_consumer_arguments(queue.name, vh.name, arguments)
        if (exclusive and queue.consumers) or any(c.exclusive for c in queue.consumers):
            raise AccessRefused(
                f"ACCESS_REFUSED - queue '{queue.name}' in vhost '{vh.name}' in exclusive use")
        if not consumer_tag:
            consumer_tag = "amq.ctag-" + _random_suffix()
        elif consumer_tag in channel.consumers:
            raise NotAllowed(f"NOT_ALLOWED - attempt to reuse consumer tag '{consumer_tag}'")
        consumer = ConsumerState(consumer_tag, channel, queue, no_ack=no_ack, exclusive=exclusive,
                                 prefetch=channel.prefetch, arguments=arguments)
        channel.consumers[consumer_tag] = consumer
        queue.consumers.append(consumer)
        queue.had_consumer = True
        self._dispatch(queue)
        return consumer_tag

    def _consume_reply_to(self, channel: ChannelState, consumer_tag: str, *, no_ack: bool
                          ) -> str:
        if not no_ack:
            raise PreconditionFailed("PRECONDITION_FAILED - reply consumer cannot acknowledge")
        if channel.reply_consumer is not None:
            raise PreconditionFailed("PRECONDITION_FAILED - reply consumer already set")
        channel.reply_consumer = consumer_tag or "amq.ctag-" + _random_suffix()
        token = f"{REPLY_TO}.g1h2AA{channel.connection.id}.{channel.id}.{_random_suffix()}"
        channel.reply_token = token
        self._reply_channels[token] = channel
        return channel.reply_consumer

    def _publish_reply(self, channel: ChannelState, routing_key: str, body: bytes,
                       properties: Properties) -> bool:
        """Deliver a reply published to ``amq.rabbitmq.reply-to.*``; False if nobody waits."""
        target = self._reply_channels.get(routing_key)
        if target is None or not target.open or target.reply_consumer is None:
            return False
        tag = target.next_tag
        target.next_tag += 1
        target.connection.outbox.append(Deliver(target.id, target.reply_consumer, Delivery(
            body, tag, "", routing_key, False, properties, target.reply_consumer)))
        return True

    def basic_cancel(self, channel: ChannelState, consumer_tag: str) -> None:
        if consumer_tag == channel.reply_consumer:
            self._forget_reply_to(channel)
            return
        consumer = channel.consumers.get(consumer_tag)
        if consumer is not None:
            self._remove_consumer(consumer, notify=False)

    def _remove_consumer(self, consumer: ConsumerState, *, notify: bool) -> None:
        channel, queue = consumer.channel, consumer.queue
        channel.consumers.pop(consumer.tag, None)
        if consumer in queue.consumers:
            queue.consumers.remove(consumer)
        if notify and channel.open:
            channel.connection.outbox.append(ConsumerCancelled(channel.id, consumer.tag))
        if not queue.consumers:
            queue.last_used = self.clock.monotonic()
            if queue.expires_ms is not None:
                self._watch(queue, queue.last_used + queue.expires_ms / 1000)
            vh = self.vhosts.get(queue.vhost)
            if queue.auto_delete and vh is not None:
                self._delete_queue(vh, queue)

    def _pick_consumer(self, queue: QueueState) -> ConsumerState | None:
        best: ConsumerState | None = None
        for consumer in queue.consumers:
            if (best is None or consumer.priority > best.priority) and consumer.has_capacity():
                best = consumer
        return best

    def _dispatch(self, queue: QueueState) -> None:
        store = queue.store
        if not queue.consumers or not len(store):
            return
        now = self.clock.monotonic()
        while len(store):
            for expired in store.pop_expired(now):
                self._dead_letter(queue, expired, "expired")
            consumer = self._pick_consumer(queue)
            if consumer is None:
                return
            queued = store.pop()
            if queued is None:
                return
            self._deliver(consumer, queued)

    def _deliver(self, consumer: ConsumerState, queued: QueuedMessage) -> None:
        channel = consumer.channel
        tag = channel.next_tag
        channel.next_tag += 1
        if not consumer.no_ack:
            channel.unacked[tag] = Unacked(tag, consumer.queue, queued, consumer)
            consumer.unacked += 1
            channel.counted_unacked += 1
        message = queued.message
        channel.connection.outbox.append(Deliver(channel.id, consumer.tag, Delivery(
            message.body, tag, message.exchange, message.routing_key, queued.redelivered,
            message.properties, consumer.tag)))
        consumers = consumer.queue.consumers
        if len(consumers) > 1:
            consumers.remove(consumer)
            consumers.append(consumer)
        if self.tracing:
            self._emit("delivered", consumer.queue.vhost, queue=consumer.queue.name,
                       consumer_tag=consumer.tag, delivery_tag=tag,
                       redelivered=queued.redelivered, body=message.body)

    def basic_get(self, channel: ChannelState, queue_name: str, *, no_ack: bool
                  ) -> Delivery | None:
        self.tick()
        queue = self._queue(channel, queue_name)
        queue.last_used = self.clock.monotonic()
        for expired in queue.store.pop_expired(queue.last_used):
            self._dead_letter(queue, expired, "expired")
        queued = queue.store.pop()
        if queued is None:
            return None
        tag = channel.next_tag
        channel.next_tag += 1
        if not no_ack:
            channel.unacked[tag] = Unacked(tag, queue, queued, None)
        message = queued.message
        if self.tracing:
            self._emit("delivered", queue.vhost, queue=queue.name, delivery_tag=tag,
                       redelivered=queued.redelivered, body=message.body)
        return Delivery(message.body, tag, message.exchange, message.routing_key,
                        queued.redelivered, message.properties, None, len(queue.store))

    # -- acknowledgements -------------------------------------------------------------

    def _take(self, channel: ChannelState, delivery_tag: int, multiple: bool) -> list[Unacked]:
        unacked = channel.unacked
        if multiple and delivery_tag == 0:
            tags = list(unacked)
        elif delivery_tag not in unacked:
            raise PreconditionFailed(f"PRECONDITION_FAILED - unknown delivery tag {delivery_tag}")
        elif multiple:
            tags = [t for t in unacked if t <= delivery_tag]
        else:
            tags = [delivery_tag]
        taken = [unacked.pop(t) for t in tags]
        for entry in taken:
            if entry.consumer is not None:
                entry.consumer.unacked -= 1
                channel.counted_unacked -= 1
        return taken

    def _after_settle(self, channel: ChannelState, taken: list[Unacked]) -> None:
        queues = {id(e.queue): e.queue for e in taken}
        for consumer in channel.consumers.values():
            queues.setdefault(id(consumer.queue), consumer.queue)
        for queue in queues.values():
            self._dispatch(queue)

    def basic_ack(self, channel: ChannelState, delivery_tag: int, *, multiple: bool) -> None:
        taken = self._take(channel, delivery_tag, multiple)
        if self.tracing:
            for entry in taken:
                self._emit("acked", entry.queue.vhost, queue=entry.queue.name,
                           delivery_tag=entry.tag)
        self._after_settle(channel, taken)

    def basic_nack(self, channel: ChannelState, delivery_tag: int, *, multiple: bool,
                   requeue: bool) -> None:
        taken = self._take(channel, delivery_tag, multiple)
        for entry in taken:
            if requeue:
                self._requeue(entry)
            else:
                self._dead_letter(entry.queue, entry.queued, "rejected")
        self._after_settle(channel, taken)

    def basic_recover(self, channel: ChannelState) -> None:
        """basic.recover: every unacknowledged message goes back to its queue, redelivered."""
        self._requeue_all(channel)

    def _requeue(self, entry: Unacked) -> None:
        queue = entry.queue
        vh = self.vhosts.get(queue.vhost)
        if vh is None or vh.queues.get(queue.name) is not queue:
            return
        queue.store.requeue(entry.queued)
        if entry.queued.expires_at is not None:
            self._watch(queue, entry.queued.expires_at)
        if self.tracing:
            self._emit("requeued", queue.vhost, queue=queue.name, delivery_tag=entry.tag)

    def _requeue_all(self, channel: ChannelState) -> None:
        taken = list(channel.unacked.values())
        channel.unacked.clear()
        channel.counted_unacked = 0
        for entry in taken:
            if entry.consumer is not None:
                entry.consumer.unacked -= 1
            self._requeue(entry)
        for queue in {id(e.queue): e.queue for e in taken}.values():
            self._dispatch(queue)

    # -- restart ----------------------------------------------------------------------

    def restart(self) -> list[ConnectionState]:
        """A node restart: connections drop; only durable entities and persistent messages
        in durable queues remain. Returns the connections that were closed."""
        closed = list(self.connections.values())
        for conn in closed:
            for channel in list(conn.channels.values()):
                channel.open = False
                conn.channels.pop(channel.id, None)
                for consumer in list(channel.consumers.values()):
                    channel.consumers.pop(consumer.tag, None)
                    if consumer in consumer.queue.consumers:
                        consumer.queue.consumers.remove(consumer)
                taken = list(channel.unacked.values())
                channel.unacked.clear()
                for entry in taken:
                    self._requeue(entry)
            conn.open = False
        self.connections.clear()
        now = self.clock.monotonic()
        for vh in self.vhosts.values():
            for queue in list(vh.queues.values()):
                if not queue.durable or queue.exclusive:
                    self._delete_queue(vh, queue)
                    continue
                kept = [qm for qm in queue.store.clear() if qm.message.persistent]
                for qm in kept:
                    queue.store.append(qm)
                queue.last_used = now
            for exchange in list(vh.exchanges.values()):
                if not exchange.durable and exchange.name in vh.exchanges:
                    self._delete_exchange(vh, exchange)
        self._next_check = now
        self.tick()
        return closed

    # -- events -----------------------------------------------------------------------

    def _emit(self, kind: Any, vhost: str, **fields: Any) -> None:
        self.events.append(BrokerEvent(kind, vhost, **fields))
