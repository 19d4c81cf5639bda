"""Users' permissions enforced as RabbitMQ 3.10 enforces them (sans-IO, under the broker's
lock): what a user may configure, write and read in a vhost, checked on every AMQP method
that names an exchange or a queue.

RabbitMQ's internal backend matches a resource's name against the permission's regular
expression unanchored (Erlang ``re:run``: ``^$`` or an empty pattern allows nothing,
``.*`` everything); the default exchange is checked as ``amq.default``. A refusal is a
channel error, 403 ``ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user
'u'``. Which method needs what (``rabbit_channel``):

- exchange.declare, exchange.delete: configure on the exchange (a passive declare: none);
  a new exchange with an ``alternate-exchange`` also read on itself, write on that one;
- queue.declare, queue.delete: configure on the queue (a server-named one: on the name it
  gets; a passive declare and direct reply-to: none); a new queue with an
  ``x-dead-letter-exchange`` also read on itself, write on that exchange;
- queue.bind/unbind, exchange.bind/unbind: write on the destination, read on the source;
- queue.purge, basic.get, basic.consume: read on the queue (direct reply-to: none);
- basic.publish: write on the exchange. Dead-lettering checks nothing.

A :class:`Grant` is shared by every connection of its user in its vhost and changed in
place when the permissions change, so that a change applies to the next method of every
open channel (RabbitMQ's channels cache a few recent checks for a while: they see it at
the latest once their cache is cleared). The common grant, ``.*`` everywhere, keeps
``None`` matchers: the check is one attribute test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from msgbus.values import Delivery
from transports.memory.delivery import REPLY_TO, MessageFlow
from transports.memory.entities import ChannelState
from transports.memory.grants import (
    NOTHING,
    Grant,
    check,
    check_vhost,
    compile_permission,
    refused,
)

__all__ = ["NOTHING", "Grant", "PermissionChecks", "check", "check_vhost",
           "compile_permission", "is_loopback", "refused"]

def is_loopback(address: str) -> bool:
    """Whether a client's IP address is a loopback one, as RabbitMQ tells (``127.*``,
    ``::1``, and ``127.*`` mapped into IPv6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def exchange_argument(arguments: Mapping[str, Any], key: str) -> str | None:
    """The exchange an argument names (``alternate-exchange``, ``x-dead-letter-exchange``),
    as RabbitMQ reads it for the permission check: a string (other types are refused
    elsewhere), None when absent."""
    value = arguments.get(key)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else None


class PermissionChecks(MessageFlow):
    """The message methods of the core with their permission checks (the topology methods
    check theirs in :class:`~transports.memory.core.BrokerCore`, a publish in
    :class:`~transports.memory.publishing.PublishFlow`)."""

    def basic_consume(self, channel: ChannelState, queue_name: str, consumer_tag: str, *,
                      no_ack: bool, exclusive: bool, arguments: Mapping[str, Any]) -> str:
        read = channel.connection.grant.read
        if read is not None and queue_name != REPLY_TO and consumer_tag not in channel.consumers:
            check(read, "queue", queue_name or self._last_queue(channel), channel)
        return super().basic_consume(channel, queue_name, consumer_tag, no_ack=no_ack,
                                     exclusive=exclusive, arguments=arguments)

    def basic_get(self, channel: ChannelState, queue_name: str, *, no_ack: bool
                  ) -> Delivery | None:
        read = channel.connection.grant.read
        if read is not None:
            check(read, "queue", queue_name or self._last_queue(channel), channel)
        return super().basic_get(channel, queue_name, no_ack=no_ack)

    def _last_queue(self, channel: ChannelState) -> str:
        raise NotImplementedError  # BrokerCore's
