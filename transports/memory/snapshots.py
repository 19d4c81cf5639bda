"""Read-only views of a broker, like ``rabbitmqctl list_queues / list_exchanges /
list_bindings / list_connections / list_channels``: immutable snapshots."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transports.memory.access import PermissionSnapshot, UserSnapshot
from transports.memory.core import BrokerCore
from transports.memory.permissions import is_loopback

__all__ = [
    "BindingSnapshot",
    "BrokerViews",
    "ChannelSnapshot",
    "ConnectionSnapshot",
    "ConsumerSnapshot",
    "ExchangeSnapshot",
    "QueueSnapshot",
]


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    name: str
    vhost: str
    messages_ready: int
    messages_unacknowledged: int
    consumers: int
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return self.messages_ready + self.messages_unacknowledged


@dataclass(frozen=True, slots=True)
class ExchangeSnapshot:
    name: str
    vhost: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BindingSnapshot:
    source: str
    destination: str
    destination_kind: str
    routing_key: str
    vhost: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectionSnapshot:
    id: int
    name: str
    vhost: str
    user: str
    channels: int


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    connection: int
    number: int
    consumers: int
    messages_unacknowledged: int
    prefetch_count: int
    global_prefetch_count: int
    confirm: bool
    #: in tx mode (tx.select); then the publishes and the acknowledged messages that wait
    #: for tx.commit (nacks and rejects are not counted, as RabbitMQ counts them)
    transactional: bool = False
    messages_uncommitted: int = 0
    acks_uncommitted: int = 0


@dataclass(frozen=True, slots=True)
class ConsumerSnapshot:
    connection: int
    channel: int
    tag: str
    queue: str
    vhost: str
    no_ack: bool
    exclusive: bool
    prefetch_count: int
    arguments: Mapping[str, Any] = field(default_factory=dict)


class BrokerViews:
    """Snapshot methods of :class:`~transports.memory.Broker`."""

    #: the users who may log in over the network from a loopback address only (RabbitMQ's
    #: ``loopback_users``)
    loopback_users: frozenset[str] = frozenset({"guest"})

    def __init__(self, core: BrokerCore, lock: threading.RLock) -> None:
        self.__core = core
        self.__lock = lock

    def queues(self, vhost: str = "/") -> list[QueueSnapshot]:
        """Queues in declaration order, with ready / unacked / consumer counts."""
        with self.__lock:
            core = self.__core
            core.tick()
            unacked: dict[int, int] = {}
            for conn in core.connections.values():
                for channel in conn.channels.values():
                    for entry in channel.unacked.values():
                        unacked[id(entry.queue)] = unacked.get(id(entry.queue), 0) + 1
            vh = core.vhosts.get(vhost)
            if vh is None:
                return []
            return [
                QueueSnapshot(q.name, vhost, len(q.store), unacked.get(id(q), 0),
                              len(q.consumers), q.durable, q.exclusive, q.auto_delete,
                              dict(q.arguments))
                for q in vh.queues.values()
            ]

    def queue(self, name: str, vhost: str = "/") -> QueueSnapshot | None:
        for snapshot in self.queues(vhost):
            if snapshot.name == name:
                return snapshot
        return None

    def exchanges(self, vhost: str = "/") -> list[ExchangeSnapshot]:
        """Exchanges, the default exchange (named ``""``) first."""
        with self.__lock:
            vh = self.__core.vhosts.get(vhost)
            if vh is None:
                return []
            result = [ExchangeSnapshot("", vhost, "direct", True, False, False)]
            result.extend(
                ExchangeSnapshot(x.name, vhost, x.type, x.durable, x.auto_delete, x.internal,
                                 dict(x.arguments))
                for x in sorted(vh.exchanges.values(), key=lambda x: x.name))
            return result

    def bindings(self, vhost: str = "/") -> list[BindingSnapshot]:
        """Bindings, including the default exchange's implicit one for every queue."""
        with self.__lock:
            vh = self.__core.vhosts.get(vhost)
            if vh is None:
                return []
            result = [BindingSnapshot("", q, "queue", q, vhost) for q in vh.queues]
            for x in sorted(vh.exchanges.values(), key=lambda x: x.name):
                for key, arguments, (kind, dest) in x.router.bindings():
                    result.append(BindingSnapshot(x.name, dest, kind, key, vhost,
                                                  dict(arguments)))
            return result

    def connections(self) -> list[ConnectionSnapshot]:
        with self.__lock:
            return [ConnectionSnapshot(c.id, c.name, c.vhost, c.user, len(c.channels))
                    for c in self.__core.connections.values()]

    def channels(self) -> list[ChannelSnapshot]:
        with self.__lock:
            return [
                ChannelSnapshot(c.id, ch.id, len(ch.consumers), len(ch.unacked), ch.prefetch,
                                ch.global_prefetch, ch.confirm, ch.tx_publishes is not None,
                                len(ch.tx_publishes or ()),
                                sum(len(taken) for taken, requeue in ch.tx_acks or ()
                                    if requeue is None))
                for c in self.__core.connections.values() for ch in c.channels.values()
            ]

    def consumers(self) -> list[ConsumerSnapshot]:
        """Every consumer, by connection and channel (``rabbitmqctl list_consumers``)."""
        with self.__lock:
            return [
                ConsumerSnapshot(c.id, ch.id, tag, consumer.queue.name, consumer.queue.vhost,
                                 consumer.no_ack, consumer.exclusive, consumer.prefetch,
                                 dict(consumer.arguments))
                for c in self.__core.connections.values() for ch in c.channels.values()
                for tag, consumer in ch.consumers.items()
            ]

    def vhosts(self) -> list[str]:
        """The names of the virtual hosts, in the order they were added."""
        with self.__lock:
            return list(self.__core.vhosts)

    def users(self) -> list[str]:
        """The names of the users that may connect."""
        with self.__lock:
            return list(self.__core.users)

    def user(self, username: str) -> UserSnapshot | None:
        """The user's tags and password hash; None if there is no such user."""
        with self.__lock:
            if username not in self.__core.users:
                return None
            return self.__core.access.user(username)

    def permissions(self) -> list[PermissionSnapshot]:
        """Every user's permissions in every vhost, in the order they were granted."""
        with self.__lock:
            return self.__core.access.permissions()

    def authenticate(self, username: str, password: str, *, address: str | None = None
                     ) -> bool:
        """Whether ``username`` and ``password`` are a user's who may log in from
        ``address`` (a client's IP; None: in-process): one of :attr:`loopback_users` only
        from a loopback address, as RabbitMQ refuses ``guest`` from elsewhere."""
        with self.__lock:
            known = self.__core.access.check_password(username, password)
        return known and (address is None or username not in self.loopback_users
                          or is_loopback(address))

    def check_password(self, username: str, password: str) -> bool:
        """Whether ``username`` exists and ``password`` is its password."""
        with self.__lock:
            return self.__core.access.check_password(username, password)
