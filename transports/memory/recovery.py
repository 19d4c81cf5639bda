"""Recovery of a :class:`~transports.memory.MemoryTransport` after its connection closed.

What the RabbitMQ transport does after a lost connection, on the in-process broker: when
``Broker.restart()`` or a connection error (a 503 the client provoked, a forced close)
closes the connection, the transport connects again under its
:class:`~msgbus.recovery.RecoveryPolicy`, declares again the exchanges, queues and
bindings it declared (a server-named queue comes back under a new name, the old one stays
an alias on this transport), restarts its consumers with their tags, callbacks and
prefetch, and reports each step as a :class:`~msgbus.recovery.ConnectionEvent`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from msgbus import errors
from msgbus.recovery import ConnectionEvent, ConnectionState, RecoveryPolicy
from transports.memory.broker import Channel, Connection

if TYPE_CHECKING:
    from transports.memory.consuming import MemoryConsumer
    from transports.memory.transport import MemoryTransport

__all__ = ["Recovery", "Topology"]

log = logging.getLogger("transports.memory")
BindingKey = tuple[bool, str, str, str, str]


@dataclass(frozen=True, slots=True)
class _Declared:
    """A declaration as the broker accepted it: the method and its keyword arguments."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    server_named: bool = False


@dataclass(frozen=True, slots=True)
class _Binding:
    to_exchange: bool
    destination: str
    source: str
    routing_key: str
    arguments: Mapping[str, Any]

    @property
    def key(self) -> BindingKey:
        frozen = repr(sorted(self.arguments.items())) if self.arguments else ""
        return (self.to_exchange, self.destination, self.source, self.routing_key, frozen)


class Topology:
    """The exchanges, queues and bindings one transport declared, in declaration order."""

    def __init__(self) -> None:
        self.exchanges: dict[str, _Declared] = {}
        self.queues: dict[str, _Declared] = {}
        self.bindings: dict[BindingKey, _Binding] = {}
        self.aliases: dict[str, str] = {}

    def resolve(self, queue: str) -> str:
        """The current name of a queue that recovery may have renamed."""
        return self.aliases.get(queue, queue) if self.aliases else queue

    def add_exchange(self, name: str, **options: Any) -> None:
        self.exchanges[name] = _Declared(name, options)

    def remove_exchange(self, name: str) -> None:
        self.exchanges.pop(name, None)
        for key, b in list(self.bindings.items()):
            if b.source == name or (b.to_exchange and b.destination == name):
                del self.bindings[key]

    def add_queue(self, name: str, server_named: bool, **options: Any) -> None:
        self.queues[name] = _Declared(name, options, server_named)

    def remove_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        for key, b in list(self.bindings.items()):
            if not b.to_exchange and b.destination == name:
                del self.bindings[key]

    def binding(self, to_exchange: bool, destination: str, source: str, routing_key: str,
                arguments: Mapping[str, Any] | None, *, bound: bool) -> None:
        b = _Binding(to_exchange, destination, source, routing_key, dict(arguments or {}))
        if bound:
            self.bindings[b.key] = b
        else:
            self.bindings.pop(b.key, None)

    def rename(self, old: str, new: str) -> None:
        """Queue ``old`` is now called ``new``: move its record, bindings and aliases."""
        decl = self.queues.pop(old, None)
        if decl is not None:
            self.queues[new] = _Declared(new, decl.options, decl.server_named)
        for key, b in list(self.bindings.items()):
            if not b.to_exchange and b.destination == old:
                del self.bindings[key]
                moved = _Binding(False, new, b.source, b.routing_key, b.arguments)
                self.bindings[moved.key] = moved
        for alias, target in list(self.aliases.items()):
            if target == old:
                self.aliases[alias] = new
        self.aliases[old] = new


class Recovery:
    """Brings a :class:`MemoryTransport` back after its connection closed."""

    def __init__(self, transport: MemoryTransport, policy: RecoveryPolicy) -> None:
        self._t = transport
        self.policy = policy
        self.sleep: Callable[[float], None] = time.sleep

    def recover(self, cause: errors.MsgbusError) -> None:
        """Connect again and restore, or close the transport and raise ``ConnectionLost``."""
        t = self._t
        log.warning("connection to %s lost: %s", t._url, cause)
        t._emit(ConnectionEvent(ConnectionState.LOST, t._url, error=cause))
        last: errors.MsgbusError = cause
        attempt = 0
        while attempt < self.policy.max_attempts:
            attempt += 1
            delay = self.policy.delay(attempt)
            if delay:
                self.sleep(delay)
            try:
                connection = t._reconnect()
                renamed = self._restore(connection)
            except errors.TransportError as exc:  # refused, or closed again meanwhile
                last = exc
                log.warning("reconnecting to %s, attempt %d of %d failed: %s",
                            t._url, attempt, self.policy.max_attempts, exc)
                continue
            log.info("reconnected to %s after %d attempt(s)", t._url, attempt)
            t._emit(ConnectionEvent(ConnectionState.RECOVERED, t._url, attempts=attempt,
                                    renamed_queues=renamed))
            return
        t._give_up()
        failure = errors.ConnectionLost(
            f"the connection to {t._url} was lost and could not be recovered after "
            f"{attempt} attempt(s): {last}")
        t._emit(ConnectionEvent(ConnectionState.FAILED, t._url, attempts=attempt,
                                error=failure))
        raise failure from cause

    def _restore(self, connection: Connection) -> dict[str, str]:
        """Declare the recorded topology again and restart the consumers; what the broker
        refuses now (a channel error) is logged and skipped."""
        t = self._t
        topology = t._topology
        for x in list(topology.exchanges.values()):
            self._step(connection, f"exchange {x.name!r}", partial(_declare_exchange, x))
        renamed: dict[str, str] = {}
        for q in list(topology.queues.values()):
            result = self._step(connection, f"queue {q.name!r}", partial(_declare_queue, q))
            if result is not None and q.server_named and result != q.name:
                topology.rename(q.name, result)
                renamed[q.name] = result
        for b in list(topology.bindings.values()):
            self._step(connection, f"binding {b.source!r} -> {b.destination!r}",
                       partial(_bind, b))
        pending = [c for c in t._consumers.values() if c._active]
        while pending:  # a consumer refused closes the channel: start the others again
            for consumer in pending:
                queue = topology.resolve(consumer.queue)
                started = self._step(
                    connection, f"consumer {consumer.consumer_tag!r} on queue {queue!r}",
                    partial(_restart_consumer, consumer=consumer, queue=queue))
                if started is None:
                    consumer._active = False
                    t._consumers.pop(consumer.consumer_tag, None)
                    pending.remove(consumer)
                    break
            else:
                break
        return renamed

    def _step(self, connection: Connection, what: str, op: Callable[[Channel], Any]) -> Any:
        """Run ``op`` on the transport's channel; a channel error replaces the channel."""
        t = self._t
        try:
            return op(t._channel)
        except errors.ChannelClosed as exc:
            log.warning("recovery could not restore %s: %s", what, exc.reply_text)
            t._channel = connection.channel()
            return None


def _declare_exchange(x: _Declared, channel: Channel) -> None:
    channel.exchange_declare(x.name, **x.options)


def _declare_queue(q: _Declared, channel: Channel) -> str:
    name, _messages, _consumers = channel.queue_declare("" if q.server_named else q.name,
                                                        **q.options)
    return name


def _bind(b: _Binding, channel: Channel) -> None:
    if b.to_exchange:
        channel.exchange_bind(b.destination, b.source, b.routing_key, b.arguments)
    else:
        channel.queue_bind(b.destination, b.source, b.routing_key, b.arguments)


def _restart_consumer(channel: Channel, consumer: MemoryConsumer, queue: str) -> bool:
    channel.basic_qos(consumer.prefetch)
    channel.basic_consume(queue, consumer.consumer_tag, no_ack=consumer.auto_ack,
                          exclusive=consumer.exclusive, arguments=consumer.arguments)
    consumer._channel, consumer._queue, consumer.last_tag = channel, queue, 0
    return True
