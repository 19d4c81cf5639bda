"""Dead-lettering: the message a queue republishes to its dead-letter exchange, with the
``x-death`` history RabbitMQ 3.10 writes."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from transports.memory.entities import QueueState
from transports.memory.queue import Message, QueuedMessage

__all__ = ["dead_lettered", "is_cycle", "routing_keys_of"]


def routing_keys_of(message: Message) -> list[str]:
    """The routing key and the ``CC`` header's keys a message was published with."""
    keys = [message.routing_key]
    headers = message.properties.headers or {}
    cc = headers.get("CC")
    if isinstance(cc, (list, tuple)):
        keys.extend(k.decode() if isinstance(k, bytes) else str(k) for k in cc)
    return keys


def dead_lettered(queued: QueuedMessage, queue: QueueState, reason: str,
                  wall_time: float) -> tuple[Message, list[str]]:
    """The message to publish to ``queue``'s dead-letter exchange, and its routing keys."""
    message = queued
    props = message.properties
    headers: dict[str, Any] = {k: v for k, v in (props.headers or {}).items() if k != "CC"}
    keys = routing_keys_of(message)
    deaths = [dict(d) for d in headers.get("x-death") or () if isinstance(d, Mapping)]
    for index, death in enumerate(deaths):
        if death.get("queue") == queue.name and death.get("reason") == reason:
            death["count"] = int(death.get("count", 0)) + 1
            deaths.insert(0, deaths.pop(index))
            break
    else:
        entry: dict[str, Any] = {
            "count": 1,
            "reason": reason,
            "queue": queue.name,
            "time": datetime.datetime.fromtimestamp(int(wall_time), tz=datetime.timezone.utc),
            "exchange": message.exchange,
            "routing-keys": keys,
        }
        if props.expiration is not None:
            entry["original-expiration"] = props.expiration
        deaths.insert(0, entry)
    headers["x-death"] = deaths
    if "x-first-death-reason" not in headers:
        headers["x-first-death-exchange"] = message.exchange
        headers["x-first-death-queue"] = queue.name
        headers["x-first-death-reason"] = reason
    new_props = dataclasses.replace(props, headers=headers, expiration=None)
    dl_keys = [queue.dead_letter_routing_key] if queue.dead_letter_routing_key is not None else keys
    target = queue.dead_letter_exchange or ""
    return Message(message.body, target, dl_keys[0], new_props), dl_keys


def is_cycle(reason: str, deaths: Iterable[Mapping[str, Any]], target_queue: str) -> bool:
    """Whether dead-lettering into ``target_queue`` would loop with no rejection in between
    (RabbitMQ then drops the message for that queue)."""
    if reason == "rejected":
        return False
    for death in deaths:
        if death.get("reason") == "rejected":
            return False
        if death.get("queue") == target_queue:
            return True
    return False
