"""Messages on their way in: publishing, routing into queues, expiry and dead-lettering.
Sans-IO, like the rest of the core. :class:`~transports.memory.delivery.MessageFlow` adds
what happens once a message is in a queue (consumers, delivery, acknowledgements) and
:class:`~transports.memory.core.BrokerCore` the topology (exchanges, queues, bindings)."""

from __future__ import annotations

import abc
import base64
import dataclasses
import itertools
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from msgbus.clock import Clock
from msgbus.errors import AccessRefused, NotFound, PreconditionFailed
from msgbus.values import EMPTY_PROPERTIES, Properties, ReturnedMessage
from transports.memory import arguments as args
from transports.memory.deadletter import dead_lettered, header_routes, is_cycle
from transports.memory.entities import (
    ChannelState,
    ConsumerState,
    PublishConfirm,
    QueueState,
    Return,
    VHostState,
)
from transports.memory.events import BrokerEvent
from transports.memory.grants import check
from transports.memory.queue import QueuedMessage

__all__ = ["REPLY_TO", "PublishFlow", "PublishResult", "random_suffix"]

REPLY_TO = "amq.rabbitmq.reply-to"


class PublishResult(NamedTuple):
    """What became of a publish: queues reached, returned (mandatory), refused (nack)."""

    routed: int
    returned: bool
    nacked: bool
    sequence: int | None = None


_REPLY_TO_PREFIX = REPLY_TO + "."
#: what a publish without confirms, mandatory or refusal comes to, by queues reached
_PUBLISHED = (PublishResult(0, False, False, None), PublishResult(1, False, False, None))


def random_suffix() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


class PublishFlow(abc.ABC):
    """Messages arriving. Subclasses provide the topology lookups and the delivery side."""


    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.vhosts: dict[str, VHostState] = {}
        self._seq = itertools.count(1)
        self._timed: set[QueueState] = set()
        self._next_check = float("inf")
        # while tick dead-letters a message that expired before now: when it expired
        self._expired_at: float | None = None
        self._reply_channels: dict[str, ChannelState] = {}
        self.tracing = False
        self.events: list[BrokerEvent] = []

    @abc.abstractmethod
    def _vhost(self, channel: ChannelState) -> VHostState: ...

    @abc.abstractmethod
    def _queue(self, channel: ChannelState, name: str) -> QueueState: ...

    @abc.abstractmethod
    def _delete_queue(self, vh: VHostState, queue: QueueState, *, cascade: bool = True
                      ) -> int: ...


    @abc.abstractmethod
    def _pick_consumer(self, queue: QueueState) -> ConsumerState | None: ...

    @abc.abstractmethod
    def _deliver(self, consumer: ConsumerState, queued: QueuedMessage) -> None: ...

    @abc.abstractmethod
    def _publish_reply(self, channel: ChannelState, routing_key: str, body: bytes,
                       properties: Properties) -> bool: ...

    @abc.abstractmethod
    def _drop_over_limit(self, queue: QueueState) -> None: ...

    # -- publishing and routing -------------------------------------------------------

    def basic_publish(self, channel: ChannelState, exchange: str, routing_key: str, body: bytes,
                      properties: Properties, *, mandatory: bool) -> PublishResult:
        if self._timed:
            self.tick()
        write = channel.connection.grant.write
        if write is not None:  # before the exchange is looked up, as RabbitMQ checks
            check(write, "exchange", exchange, channel)
        vh = self.vhosts[channel.connection.vhost]
        if exchange:
            x = vh.exchanges.get(exchange)
            if x is None:
                raise NotFound(f"NOT_FOUND - no exchange '{exchange}' in vhost '{vh.name}'")
            if x.internal:
                raise AccessRefused(
                    f"ACCESS_REFUSED - cannot publish to internal exchange '{exchange}' in "
                    f"vhost '{vh.name}'")
        if properties is EMPTY_PROPERTIES and channel.tx_publishes is None:
            return self._publish_checked(channel, exchange, routing_key, body, properties,
                                         mandatory=mandatory)
        if properties.reply_to == REPLY_TO:  # checked first, as RabbitMQ does
            if channel.reply_token is None:
                raise PreconditionFailed(
                    "PRECONDITION_FAILED - fast reply consumer does not exist")
            p = properties
            properties = Properties(
                p.content_type, p.content_encoding, p.headers, p.delivery_mode, p.priority,
                p.correlation_id, channel.reply_token, p.expiration, p.message_id,
                p.timestamp, p.type, p.user_id, p.app_id, p.cluster_id)
        user = channel.connection.user
        if properties.user_id is not None and properties.user_id != user:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - user_id property set to '{properties.user_id}' but "
                f"authenticated user was '{user}'")
        args.check_message(properties)  # expiration, CC / BCC, delivery_mode
        if channel.tx_publishes is not None:
            channel.tx_publishes.append((exchange, routing_key, body, properties, mandatory))
            return PublishResult(0, False, False, None)
        return self._publish_checked(channel, exchange, routing_key, body, properties,
                                     mandatory=mandatory)

    def _publish_checked(self, channel: ChannelState, exchange: str, routing_key: str,
                         body: bytes, properties: Properties, *, mandatory: bool
                         ) -> PublishResult:
        """Route and enqueue a publish that passed the channel's checks."""
        vh = self.vhosts[channel.connection.vhost]
        if not exchange and routing_key.startswith(_REPLY_TO_PREFIX):
            self._publish_reply(channel, routing_key, body, properties)
            # RabbitMQ routes a reply to no queue: a mandatory one comes back, delivered or not
            return self._confirm(channel, exchange, routing_key, body, properties,
                                 routed=0, mandatory=mandatory, accepted=True)
        headers = properties.headers
        if not exchange and not headers and not self.tracing:
            # the default exchange, no CC / BCC: straight to the queue of that name
            queue = vh.queues.get(routing_key)
            if queue is None:
                routed = 0
                accepted = True
            else:
                routed = 1
                accepted = self._enqueue(queue, body, exchange, routing_key, properties)
            if not mandatory and not channel.confirm and accepted:
                return _PUBLISHED[routed]
            return self._confirm(channel, exchange, routing_key, body, properties,
                                 routed=routed, mandatory=mandatory, accepted=accepted)
        keys = [routing_key]
        bcc: tuple[str, ...] = ()
        if headers and ("CC" in headers or "BCC" in headers):
            keys.extend(header_routes(headers))
            if "BCC" in headers:
                bcc = tuple(header_routes({"BCC": headers["BCC"]}))
                properties = dataclasses.replace(
                    properties, headers={k: v for k, v in headers.items() if k != "BCC"})
        if self.tracing:
            self._emit("published", vh.name, exchange=exchange, routing_key=routing_key,
                       body=body, properties=properties, connection=channel.connection.id,
                       channel=channel.id)
        queues = self._route(vh, exchange, keys, properties.headers)
        if self.tracing:
            self._emit("routed", vh.name, exchange=exchange, routing_key=routing_key,
                       queues=tuple(q.name for q in queues), connection=channel.connection.id,
                       channel=channel.id)
        accepted = True
        for queue in queues:
            if not self._enqueue(queue, body, exchange, routing_key, properties, bcc):
                accepted = False
        if not mandatory and not channel.confirm and accepted and len(queues) < 2:
            return _PUBLISHED[len(queues)]
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
                           routing_key=routing_key, reason="312 NO_ROUTE",
                           connection=channel.connection.id, channel=channel.id)
        sequence = None
        if channel.confirm:
            sequence = channel.next_publish_seq
            channel.next_publish_seq += 1
            channel.connection.outbox.append(PublishConfirm(channel.id, sequence, accepted))
            if self.tracing:
                self._emit("confirmed", channel.connection.vhost, exchange=exchange,
                           routing_key=routing_key, delivery_tag=sequence,
                           reason="ack" if accepted else "nack",
                           connection=channel.connection.id, channel=channel.id)
        return PublishResult(routed, returned, not accepted, sequence)

    def confirm_select(self, channel: ChannelState) -> None:
        if channel.tx_publishes is not None:
            raise PreconditionFailed(
                "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
        channel.confirm = True

    def _route(self, vh: VHostState, exchange: str, keys: list[str],
               headers: Mapping[str, Any] | None) -> list[QueueState]:
        if exchange == "" and len(keys) == 1:
            queue = vh.queues.get(keys[0])
            return [queue] if queue is not None else []
        if len(keys) == 1 and (x := vh.exchanges.get(exchange)) is not None:
            reached = x.router.route(keys[0], headers)
            if len(reached) == 1:  # the common case: one binding, to a queue
                ((kind, dest),) = reached
                queue = vh.queues.get(dest) if kind == "queue" else None
                if queue is not None:
                    return [queue]
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

    def _enqueue(self, queue: QueueState, body: bytes, exchange: str, routing_key: str,
                 properties: Properties, bcc: tuple[str, ...] = ()) -> bool:
        """Put a routed message in ``queue``; False when the queue refused it (overflow)."""
        ttl = queue.message_ttl
        expiration = properties.expiration
        if expiration is not None:
            per_message = args.parse_expiration(expiration)
            if per_message is not None:
                ttl = per_message if ttl is None else min(ttl, per_message)
        expires_at = None
        if ttl is not None:
            arrived = self._expired_at  # set while tick dead-letters what expired earlier
            expires_at = (self.clock.monotonic() if arrived is None else arrived) + ttl / 1000
        queued = QueuedMessage(next(self._seq), body, exchange, routing_key, properties,
                               expires_at, queue)
        if bcc:
            queued.bcc = bcc
        store = queue.store
        # RabbitMQ refuses an overflowing publish before it tries the consumers: a message
        # over x-max-length(-bytes) on its own is refused even when a consumer waits
        if queue.limited and queue.overflow != "drop-head" and (
                queue.over_limit(1, queued.size) if queue.queue_type == "classic"
                else queue.over_limit()):  # a quorum queue refuses once it is over
            if queue.overflow == "reject-publish-dlx":
                self._dead_letter(queue, queued, "maxlen")
            elif self.tracing:
                self._emit("dropped", queue.vhost, queue=queue.name, reason="overflow")
            return False
        if not store._count and queue.consumers:
            consumer = self._pick_consumer(queue)
            if consumer is not None:
                self._deliver(consumer, queued)
                return True
        if ttl == 0:
            self._dead_letter(queue, queued, "expired")
            return True
        if queue.limited:
            store.append(queued)
            if queue.overflow == "drop-head":
                self._drop_over_limit(queue)
        else:
            store.append(queued)
        if queued.expires_at is not None:
            store.expiring_seq = queued.seq
            self._watch(queue, queued.expires_at)
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
        message, keys, bcc = dead_lettered(queued, queue, reason, self.clock.time())
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
            self._enqueue(target, message.body, message.exchange, message.routing_key,
                          message.properties, bcc)

    def _watch(self, queue: QueueState, deadline: float) -> None:
        self._timed.add(queue)
        self._next_check = min(self._next_check, deadline)

    def next_deadline(self) -> float:
        """When (on the clock's ``monotonic()``) :meth:`tick` may next have something to do:
        a message or queue expiry; ``inf`` when nothing is timed. It may be early, never
        late: a tick at that time finds nothing or sets the next one."""
        return self._next_check

    def tick(self) -> None:
        """Expire messages and queues whose time has come (called by every operation).

        A message dead-lettered on expiry arrives in its next queue when it expired, as it
        does on RabbitMQ, whose timers fire on time: when the clock has jumped past several
        expiries of a chain of queues, ``tick`` goes round until it has caught up."""
        now = self.clock.monotonic()
        while now >= self._next_check:
            self._expire(now)

    def _expire(self, now: float) -> None:
        self._next_check = next_check = float("inf")
        for queue in list(self._timed):
            for expired in queue.store.pop_expired(now):
                self._expired_at = expired.expires_at
                try:
                    self._dead_letter(queue, expired, "expired")
                finally:
                    self._expired_at = None
            deadline = queue.store.next_expiry()
            if queue.expires_ms is not None and not queue.consumers:
                unused_until = queue.last_used + queue.expires_ms / 1000
                if unused_until <= now:
                    vh = self.vhosts.get(queue.vhost)
                    if vh is not None:
                        self._delete_queue(vh, queue)
                    continue
                deadline = unused_until if deadline is None else min(deadline, unused_until)
            if (deadline is None and queue.message_ttl is None and queue.expires_ms is None
                    and not queue.store.may_expire()):
                self._timed.discard(queue)
            elif deadline is not None:
                next_check = min(next_check, deadline)
        self._next_check = min(self._next_check, next_check)

    # -- events -----------------------------------------------------------------------

    def _emit(self, kind: Any, vhost: str, **fields: Any) -> None:
        self.events.append(BrokerEvent(kind, vhost, **fields))
