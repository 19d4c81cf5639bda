"""What a transport declared, so that recovery can declare it again.

Exchanges, queues and bindings are recorded in declaration order when the broker accepted
them and forgotten when they are deleted. A server-named queue gets a new name when it is
declared again; :meth:`Topology.rename` moves its bindings over and remembers the old name
as an alias, so callers can keep using the name they were given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pika.adapters.blocking_connection import BlockingChannel

__all__ = ["BindingDecl", "ExchangeDecl", "QueueDecl", "Topology", "declare_binding"]


def _frozen_args(arguments: Mapping[str, Any] | None) -> str:
    return repr(sorted(arguments.items())) if arguments else ""


@dataclass(frozen=True, slots=True)
class ExchangeDecl:
    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class QueueDecl:
    name: str
    server_named: bool
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class BindingDecl:
    """queue.bind (``to_exchange`` False) or exchange.bind (True)."""

    to_exchange: bool
    destination: str
    source: str
    routing_key: str
    arguments: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[bool, str, str, str, str]:
        return (
            self.to_exchange, self.destination, self.source, self.routing_key,
            _frozen_args(self.arguments),
        )


class Topology:
    """The exchanges, queues and bindings one transport declared."""

    def __init__(self) -> None:
        self.exchanges: dict[str, ExchangeDecl] = {}
        self.queues: dict[str, QueueDecl] = {}
        self.bindings: dict[tuple[bool, str, str, str, str], BindingDecl] = {}
        self.aliases: dict[str, str] = {}

    def resolve(self, queue: str) -> str:
        """The current name of a queue that may have been renamed by recovery."""
        return self.aliases.get(queue, queue) if self.aliases else queue

    def add_exchange(self, decl: ExchangeDecl) -> None:
        self.exchanges[decl.name] = decl

    def remove_exchange(self, name: str) -> None:
        self.exchanges.pop(name, None)
        for key, binding in list(self.bindings.items()):
            if binding.source == name or (binding.to_exchange and binding.destination == name):
                del self.bindings[key]

    def add_queue(self, decl: QueueDecl) -> None:
        self.queues[decl.name] = decl

    def remove_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        for key, binding in list(self.bindings.items()):
            if not binding.to_exchange and binding.destination == name:
                del self.bindings[key]

    def add_binding(self, binding: BindingDecl) -> None:
        self.bindings[binding.key] = binding

    def remove_binding(self, binding: BindingDecl) -> None:
        self.bindings.pop(binding.key, None)

    def rename(self, old: str, new: str) -> None:
        """Queue ``old`` is now called ``new``: move its record, bindings and aliases."""
        decl = self.queues.pop(old, None)
        if decl is not None:
            self.queues[new] = replace(decl, name=new)
        for key, binding in list(self.bindings.items()):
            if not binding.to_exchange and binding.destination == old:
                del self.bindings[key]
                moved = replace(binding, destination=new)
                self.bindings[moved.key] = moved
        for alias, target in list(self.aliases.items()):
            if target == old:
                self.aliases[alias] = new
        self.aliases[old] = new


def declare_binding(channel: BlockingChannel, binding: BindingDecl, *,
                    remove: bool = False) -> None:
    """queue.bind or exchange.bind for a recorded binding (queue.unbind or exchange.unbind
    with ``remove``)."""
    args = dict(binding.arguments) if binding.arguments else None
    if binding.to_exchange:
        method = channel.exchange_unbind if remove else channel.exchange_bind
    else:
        method = channel.queue_unbind if remove else channel.queue_bind
    method(binding.destination, binding.source, binding.routing_key, arguments=args)
