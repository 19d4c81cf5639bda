"""Dead-lettering: the message a queue republishes to its dead-letter exchange, with the
``x-death`` history RabbitMQ 3.10 writes (``rabbit_dead_letter:make_msg/5``).

What RabbitMQ does, and so what this does:

- a message's first death adds ``x-first-death-reason``/``-queue``/``-exchange`` and an
  ``x-death`` array with one table: ``count`` (a 64-bit integer), ``reason``, ``queue``,
  ``time``, ``exchange``, ``routing-keys`` (the routing key and the ``CC`` keys) and, when the
  message had one, ``original-expiration``; the ``expiration`` property is removed;
- a later death for the same queue and reason increments that table's ``count`` (its other
  fields stay) and moves it to the front; a death for a new queue or reason adds a table at
  the front. Either way RabbitMQ first groups the tables by queue and reason, which reverses
  the order of the others, and sorts the fields of the table it writes;
- the headers come out sorted by name;
- with ``x-dead-letter-routing-key`` the message is routed with that key alone and loses its
  ``CC`` header; without, it is routed with its original routing keys and keeps ``CC``.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from transports.memory.entities import QueueState
from transports.memory.fields import Long
from transports.memory.queue import Message, QueuedMessage

__all__ = ["dead_lettered", "header_routes", "is_cycle", "routing_keys_of"]

_MISSING = object()


def header_routes(headers: Mapping[str, Any] | None) -> list[str]:
    """The routing keys a message's ``CC`` and ``BCC`` arrays add (strings only, as
    RabbitMQ takes only their ``longstr`` elements)."""
    if not headers:
        return []
    keys: list[str] = []
    for header in ("CC", "BCC"):
        extra = headers.get(header)
        if isinstance(extra, list):
            keys.extend(key for key in extra if isinstance(key, str))
    return keys


def routing_keys_of(message: Message) -> list[str]:
    """The routing key and the ``CC`` header's keys a message was published with."""
    return [message.routing_key, *header_routes(message.properties.headers)]


def _by_name(table: Mapping[str, Any]) -> dict[str, Any]:
    """A field table sorted by name, as ``rabbit_misc:sort_field_table`` sorts it."""
    return dict(sorted(table.items(), key=lambda item: item[0].encode()))


def _key(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


def _queue_and_reason(death: Any) -> tuple[Any, Any]:
    if not isinstance(death, Mapping):
        return _MISSING, _MISSING
    return _key(death.get("queue")), _key(death.get("reason"))


def _grouped(deaths: list[Any]) -> list[Any]:
    """``group_by_queue_and_reason``: one table per queue and reason (the first, given a
    count if it had none), in the reverse order of their first appearance."""
    if len(deaths) < 2:
        return deaths
    grouped: list[Any] = []
    seen: set[tuple[Any, Any]] = set()
    for death in deaths:
        key = _queue_and_reason(death)
        matches = [d for d in deaths if _queue_and_reason(d) == key]
        first = matches[0]
        if isinstance(first, Mapping) and "count" not in first:
            first = {"count": Long(len(matches)), **first}
        if key not in seen:
            grouped.insert(0, first)
            seen.add(key)
    return grouped


def _x_death(headers: dict[str, Any], info: dict[str, Any]) -> Any:
    """The new ``x-death`` value (and, on a first death, the ``x-first-death-*``)."""
    existing = headers.get("x-death", _MISSING)
    if existing is _MISSING:
        headers["x-first-death-reason"] = info["reason"]
        headers["x-first-death-queue"] = info["queue"]
        headers["x-first-death-exchange"] = info["exchange"]
        return [{"count": Long(1), **info}]
    if not isinstance(existing, list):
        return [{"count": Long(1), **info}]  # an x-death that is no array is reset
    key = (_key(info["queue"]), _key(info["reason"]))
    grouped = _grouped(existing)
    matches = [d for d in grouped if _queue_and_reason(d) == key]
    others = [d for d in grouped if _queue_and_reason(d) != key]
    if matches:
        entry = dict(matches[0])
        entry["count"] = Long(int(entry.get("count", 0)) + 1)
    else:
        entry = {"count": Long(1), **info}
    return [_by_name(entry), *others]


def dead_lettered(queued: QueuedMessage, queue: QueueState, reason: str,
                  wall_time: float) -> tuple[Message, list[str], tuple[str, ...]]:
    """The message to publish to ``queue``'s dead-letter exchange, its routing keys, and the
    keys of those its BCC header gave (which x-death does not list)."""
    props = queued.properties
    keys = routing_keys_of(queued)
    info: dict[str, Any] = {
        "reason": reason,
        "queue": queue.name,
        "time": datetime.datetime.fromtimestamp(int(wall_time), tz=datetime.timezone.utc),
        "exchange": queued.exchange,
        "routing-keys": list(keys),
    }
    if props.expiration is not None:
        info["original-expiration"] = props.expiration
    headers = dict(props.headers or {})
    if queue.queue_type == "quorum":
        headers.pop("x-delivery-count", None)  # added to deliveries, not to the message
    headers["x-death"] = _x_death(headers, info)
    bcc = queued.bcc
    if queue.dead_letter_routing_key is not None:
        headers.pop("CC", None)
        keys, bcc = [queue.dead_letter_routing_key], ()
    new_props = dataclasses.replace(props, headers=_by_name(headers), expiration=None)
    target = queue.dead_letter_exchange or ""
    return Message(queued.body, target, keys[0], new_props), [*keys, *bcc], bcc


def is_cycle(reason: str, deaths: Iterable[Mapping[str, Any]], target_queue: str) -> bool:
    """Whether dead-lettering into ``target_queue`` would loop with no rejection in between
    (RabbitMQ then drops the message for that queue)."""
    if reason == "rejected":
        return False
    for death in deaths:
        if not isinstance(death, Mapping):
            return False
        if death.get("reason") == "rejected":
            return False
        if death.get("queue") == target_queue:
            return True
    return False
