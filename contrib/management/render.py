"""Broker snapshots as the JSON objects of RabbitMQ 3.10's management API: the same field
names, the same nesting, ``[]`` where RabbitMQ writes an empty Erlang list."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from contrib.definitions import RABBITMQ_VERSION, jsonable
from contrib.management.stats import Stats, channel_key
from transports.memory import (
    BindingSnapshot,
    ChannelSnapshot,
    ConnectionSnapshot,
    ExchangeSnapshot,
    QueueSnapshot,
)
from transports.memory.snapshots import ConsumerSnapshot

if TYPE_CHECKING:
    from contrib.amqp_server.details import ClientDetails

__all__ = [
    "NODE",
    "RABBITMQ_VERSION",
    "binding_json",
    "channel_json",
    "connection_json",
    "consumer_json",
    "exchange_json",
    "jsonable",
    "properties_key",
    "queue_json",
]

NODE = "msgbus@localhost"


def queue_type(arguments: Mapping[str, Any]) -> str:
    kind = arguments.get("x-queue-type", "classic")
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def queue_json(q: QueueSnapshot, stats: Stats) -> dict[str, Any]:
    key = ("queue", q.vhost, q.name)
    result: dict[str, Any] = {
        "arguments": jsonable(q.arguments),
        "auto_delete": q.auto_delete,
        "consumer_capacity": 1.0 if q.consumers else 0,
        "consumer_utilisation": 1.0 if q.consumers else 0,
        "consumers": q.consumers,
        "durable": q.durable,
        "effective_policy_definition": {},
        "exclusive": q.exclusive,
        "exclusive_consumer_tag": None,
        "head_message_timestamp": None,
        "messages": q.messages,
        "messages_ready": q.messages_ready,
        "messages_unacknowledged": q.messages_unacknowledged,
        "name": q.name,
        "node": NODE,
        "operator_policy": None,
        "policy": None,
        "recoverable_slaves": None,
        "single_active_consumer_tag": None,
        "state": "running",
        "type": queue_type(q.arguments),
        "vhost": q.vhost,
    }
    result.update(stats.depth_details(q.vhost, q.name))
    _add_message_stats(result, stats, key)
    return result


def _add_message_stats(result: dict[str, Any], stats: Stats, key: tuple[str, str, str]
                       ) -> None:
    """RabbitMQ leaves ``message_stats`` out of a queue, exchange or channel that has
    counted nothing yet."""
    message_stats = stats.message_stats(key)
    if message_stats:
        result["message_stats"] = message_stats


def exchange_json(x: ExchangeSnapshot, stats: Stats) -> dict[str, Any]:
    result = {
        "arguments": jsonable(x.arguments),
        "auto_delete": x.auto_delete,
        "durable": x.durable,
        "internal": x.internal,
        "name": x.name,
        "type": x.type,
        "user_who_performed_action": "rmq-internal" if x.name.startswith("amq.") or not x.name
        else "guest",
        "vhost": x.vhost,
    }
    _add_message_stats(result, stats, ("exchange", x.vhost, x.name))
    return result


def _quote(text: str) -> str:
    return quote_plus(text, safe="").replace("~", "%7E")


def properties_key(routing_key: str, arguments: Mapping[str, Any]) -> str:
    """What names one binding among those between a source and a destination: the
    routing key (``~`` when empty), then ``~`` and a digest of the arguments if any."""
    if not arguments:
        return _quote(routing_key) if routing_key else "~"
    digest = hashlib.md5(json.dumps(jsonable(arguments), sort_keys=True).encode(),
                         usedforsecurity=False).digest()
    return f"{_quote(routing_key)}~{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def binding_json(b: BindingSnapshot) -> dict[str, Any]:
    return {
        "source": b.source,
        "vhost": b.vhost,
        "destination": b.destination,
        "destination_type": b.destination_kind,
        "routing_key": b.routing_key,
        "arguments": jsonable(b.arguments),
        "properties_key": properties_key(b.routing_key, b.arguments),
    }


def in_process_name(connection_id: int) -> str:
    return f"in-process connection #{connection_id}"


def connection_json(c: ConnectionSnapshot, details: ClientDetails | None) -> dict[str, Any]:
    """A connection: a network one (``details`` from the AMQP server) or an in-process one."""
    result: dict[str, Any] = {
        "auth_mechanism": "PLAIN",
        "channel_max": 0,
        "channels": c.channels,
        "client_properties": {},
        "connected_at": 0,
        "frame_max": 0,
        "host": None,
        "name": in_process_name(c.id),
        "node": NODE,
        "peer_cert_issuer": None,
        "peer_cert_subject": None,
        "peer_cert_validity": None,
        "peer_host": None,
        "peer_port": None,
        "port": None,
        "protocol": "Direct 0-9-1",
        "recv_cnt": 0,
        "recv_oct": 0,
        "send_cnt": 0,
        "send_oct": 0,
        "send_pend": 0,
        "ssl": False,
        "ssl_cipher": None,
        "ssl_hash": None,
        "ssl_key_exchange": None,
        "ssl_protocol": None,
        "state": "running",
        "timeout": 0,
        "type": "direct",
        "user": c.user,
        "user_provided_name": c.name or None,
        "vhost": c.vhost,
    }
    if details is not None:
        provided = details.client_properties.get("connection_name")
        result.update(
            auth_mechanism=details.auth_mechanism, channel_max=details.channel_max,
            client_properties=jsonable(details.client_properties),
            connected_at=details.connected_at, frame_max=details.frame_max,
            host=details.host, name=details.name, peer_host=details.peer_host,
            peer_port=details.peer_port, port=details.port, protocol="AMQP 0-9-1",
            recv_cnt=details.recv_cnt, recv_oct=details.recv_oct, send_cnt=details.send_cnt,
            send_oct=details.send_oct, state=details.state, timeout=details.heartbeat,
            type="network", user_provided_name=jsonable(provided))
    return result


def _connection_details(connection: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": connection["name"], "peer_host": connection["peer_host"],
            "peer_port": connection["peer_port"]}


def channel_json(ch: ChannelSnapshot, connection: Mapping[str, Any], stats: Stats
                 ) -> dict[str, Any]:
    """A channel. Its ``messages_unconfirmed`` is 0: the broker confirms a publish (or
    nacks it) in the call that publishes it, so no publish ever waits for its confirm."""
    result = {
        "acks_uncommitted": ch.acks_uncommitted,
        "confirm": ch.confirm,
        "connection_details": _connection_details(connection),
        "consumer_count": ch.consumers,
        "global_prefetch_count": ch.global_prefetch_count,
        "messages_unacknowledged": ch.messages_unacknowledged,
        "messages_uncommitted": ch.messages_uncommitted,
        "messages_unconfirmed": 0,
        "name": f"{connection['name']} ({ch.number})",
        "node": NODE,
        "number": ch.number,
        "prefetch_count": ch.prefetch_count,
        "state": "running",
        "transactional": ch.transactional,
        "user": connection["user"],
        "vhost": connection["vhost"],
    }
    _add_message_stats(result, stats, channel_key(ch.connection, ch.number))
    return result


def consumer_json(c: ConsumerSnapshot, connection: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "arguments": jsonable(c.arguments),
        "ack_required": not c.no_ack,
        "active": True,
        "activity_status": "up",
        "channel_details": {
            "connection_name": connection["name"],
            "name": f"{connection['name']} ({c.channel})",
            "node": NODE,
            "number": c.channel,
            "peer_host": connection["peer_host"],
            "peer_port": connection["peer_port"],
            "user": connection["user"],
        },
        "consumer_tag": c.tag,
        "exclusive": c.exclusive,
        "prefetch_count": c.prefetch_count,
        "queue": {"name": c.queue, "vhost": c.vhost},
    }


def sort_by_name(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """RabbitMQ lists objects sorted by vhost and name."""
    return sorted(items, key=lambda item: (item.get("vhost", ""), item.get("name", "")))


def _erlang_order(value: Any) -> tuple[int, Any]:
    """Where ``value`` sorts in Erlang's order of terms, which RabbitMQ sorts lists by:
    numbers, then atoms (``false``, ``true``, ``null``), then nested objects and lists,
    then strings (by their UTF-8 bytes)."""
    if isinstance(value, bool) or value is None:
        return 1, "null" if value is None else str(value).lower()
    if isinstance(value, (int, float)):
        return 0, value
    if isinstance(value, str):
        return 3, value.encode()
    return 2, json.dumps(value, sort_keys=True)


def _dotted(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return 0  # RabbitMQ puts a missing value where 0 sorts
        value = value[part]
    return value


def sort_as_asked(items: Sequence[dict[str, Any]], sort: str | None, reverse: bool
                  ) -> list[dict[str, Any]]:
    """A list as RabbitMQ's ``?sort=a.b&sort_reverse=true`` orders it: by the (dotted)
    field ``sort``, then vhost and name; reversed when asked."""
    paths = ([sort] if sort else []) + ["vhost", "name"]
    ordered = sorted(items, key=lambda item: [_erlang_order(_dotted(item, p)) for p in paths])
    return ordered[::-1] if reverse else ordered
