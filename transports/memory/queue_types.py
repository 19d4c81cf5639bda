"""What quorum and stream queues do differently from classic queues, as RabbitMQ 3.10 does.

Quorum queues count deliveries: a message that comes back (nacked, rejected, recovered, or
left unacknowledged by a closed channel) has its ``x-delivery-count`` raised by one; a
basic.get always carries the header, a delivery to a consumer once the count is above
zero. A nacked, rejected or recovered message goes to the back of the queue (RabbitMQ
enqueues it again), unless the queue has an ``x-delivery-limit``: then, like one returned
by a closed channel, it goes to the front. Past that limit of returns a message is
dead-lettered (reason ``delivery_limit``) instead. ``reject-publish`` refuses a message
only once the queue is already over its limit. Quorum queues take no global prefetch, and
no basic.get with ``x-single-active-consumer``.

Stream queues refuse basic.get, queue.purge, automatic acknowledgement and consumers
without a prefetch count.
"""

from __future__ import annotations

import dataclasses

from msgbus.errors import AMQPNotImplemented, PreconditionFailed, ResourceLocked
from transports.memory.entities import QueueState
from transports.memory.fields import Long
from transports.memory.queue import QueuedMessage

__all__ = ["DELIVERY_COUNT", "check_consume", "check_get", "check_purge", "count_return",
           "requeues_to_back", "with_delivery_count"]

DELIVERY_COUNT = "x-delivery-count"


def _rs(queue: QueueState) -> str:
    return f"queue '{queue.name}' in vhost '{queue.vhost}'"


def check_consume(queue: QueueState, *, prefetch: int, global_prefetch: int,
                  no_ack: bool) -> None:
    """basic.consume on a quorum or stream queue."""
    if queue.queue_type == "stream":
        if not prefetch:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - consumer prefetch count is not set for '{_rs(queue)}'")
        if no_ack:
            raise AMQPNotImplemented(
                "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues "
                + _rs(queue))
    if global_prefetch:
        raise AMQPNotImplemented(f"NOT_IMPLEMENTED - {_rs(queue)} does not support global qos")


def check_get(queue: QueueState) -> None:
    """basic.get on a quorum or stream queue."""
    if queue.queue_type == "stream":
        raise AMQPNotImplemented(
            f"NOT_IMPLEMENTED - basic.get not supported by stream queues {_rs(queue)}")
    if queue.single_active:
        raise ResourceLocked(
            f"RESOURCE_LOCKED - cannot obtain access to locked {_rs(queue)}. basic.get "
            "operations are not supported by quorum queues with single active consumer")


def check_purge(queue: QueueState) -> None:
    if queue.queue_type == "stream":
        raise AMQPNotImplemented(
            f"NOT_IMPLEMENTED - queue.purge not supported by stream queues {_rs(queue)}")


def with_delivery_count(entry: QueuedMessage, count: int) -> None:
    """Give ``entry`` the ``x-delivery-count`` header with ``count``."""
    headers = dict(entry.properties.headers or {})
    headers[DELIVERY_COUNT] = Long(count)
    entry.properties = dataclasses.replace(entry.properties, headers=headers)


def _delivery_limit(queue: QueueState) -> int | None:
    limit = queue.arguments.get("x-delivery-limit")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def requeues_to_back(queue: QueueState) -> bool:
    """Whether a nack, reject or recover puts a message at the back (quorum queues
    without a delivery limit)."""
    return queue.queue_type == "quorum" and _delivery_limit(queue) is None


def count_return(queue: QueueState, entry: QueuedMessage) -> bool:
    """A quorum queue's message comes back: count it; False when that takes it past the
    queue's ``x-delivery-limit`` (it is then dead-lettered, not requeued)."""
    count = queue.delivery_counts.get(entry.seq, 0) + 1
    limit = _delivery_limit(queue)
    if limit is not None and count > limit:
        queue.delivery_counts.pop(entry.seq, None)
        return False
    queue.delivery_counts[entry.seq] = count
    with_delivery_count(entry, count)
    entry.redelivered = True
    return True
