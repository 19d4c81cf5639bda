"""Queues on every transport: declaration rules and errors, exclusivity, TTL, expiry,
dead-lettering, length limits, priorities."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import (
    AccessRefused,
    DeliveryMode,
    NotFound,
    PreconditionFailed,
    Properties,
    PublishNacked,
    ResourceLocked,
)
from msgbus.transport import Transport
from tests.support import Names, drain_bodies


def test_declare_ok_counts_and_server_named_queues(transport: Transport, names: Names) -> None:
    queue = names.queue()
    assert transport.declare_queue(queue).message_count == 0
    for body in (b"1", b"2"):
        transport.publish("", queue, body)
    info = transport.declare_queue(queue)
    assert (info.name, info.message_count, info.consumer_count) == (queue, 2, 0)
    generated = transport.declare_queue("", exclusive=True).name
    assert generated.startswith("amq.gen-")
    assert transport.declare_queue(generated, passive=True).name == generated


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ({"durable": True}, {"durable": False},
         "inequivalent arg 'durable' for queue '{q}' in vhost '/': received 'false' but "
         "current is 'true'"),
        ({"arguments": {"x-message-ttl": 1000}}, {"arguments": {"x-message-ttl": 2000}},
         "inequivalent arg 'x-message-ttl' for queue '{q}' in vhost '/': received '2000' but "
         "current is '1000'"),
        ({}, {"arguments": {"x-max-length": 5}},
         "inequivalent arg 'x-max-length' for queue '{q}' in vhost '/': received the value "
         "'5' of type 'signedint' but current is none"),
    ],
)
def test_inequivalent_redeclare_is_406(
    transport: Transport, names: Names, first: dict[str, object], second: dict[str, object],
    message: str,
) -> None:
    queue = names.queue()
    transport.declare_queue(queue, **first)  # type: ignore[arg-type]
    with pytest.raises(PreconditionFailed) as caught:
        transport.declare_queue(queue, **second)  # type: ignore[arg-type]
    assert caught.value.reply_text == "PRECONDITION_FAILED - " + message.format(q=queue)
    assert transport.declare_queue(queue, passive=True).name == queue  # channel usable again


@pytest.mark.parametrize(
    ("arguments", "detail"),
    [
        ({"x-message-ttl": -1}, "{value_negative,-1}"),
        ({"x-expires": 0}, "{value_zero,0}"),
        ({"x-max-length": "ten"}, '"expected integer, got longstr"'),
        ({"x-overflow": "explode"}, "invalid_overflow"),
        ({"x-max-priority": 300}, "{max_value_exceeded,300}"),
        ({"x-dead-letter-routing-key": "k"}, "routing_key_but_no_dlx_defined"),
    ],
)
def test_invalid_queue_arguments_are_406(
    transport: Transport, names: Names, arguments: dict[str, object], detail: str
) -> None:
    queue = names.queue()
    key = next(iter(arguments))
    with pytest.raises(PreconditionFailed) as caught:
        transport.declare_queue(queue, arguments=arguments)
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue '{queue}' in vhost '/': {detail}")


def test_reserved_names_and_missing_entities(transport: Transport, names: Names) -> None:
    with pytest.raises(AccessRefused, match=r"queue name 'amq\.mine' contains reserved prefix"):
        transport.declare_queue("amq.mine")
    with pytest.raises(AccessRefused,
                       match=r"^\(403\) ACCESS_REFUSED - operation not permitted on the default"):
        transport.bind_queue(names.queue(), "", "k")
    missing = names.queue("missing")
    with pytest.raises(NotFound) as caught:
        transport.get(missing)
    assert caught.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
    assert transport.delete_queue(missing) == 0  # deleting what is gone is fine


def test_exclusive_queue_is_locked_to_its_connection(
    connect: Callable[[], Transport], names: Names
) -> None:
    owner, other = connect(), connect()
    queue = names.queue()
    owner.declare_queue(queue, exclusive=True)
    for attempt in (lambda: other.declare_queue(queue, passive=True),
                    lambda: other.get(queue),
                    lambda: other.purge_queue(queue)):
        with pytest.raises(ResourceLocked, match="cannot obtain exclusive access"):
            attempt()
    other.publish("", queue, b"anyone may publish")
    assert drain_bodies(owner, queue) == [b"anyone may publish"]
    owner.close()
    with pytest.raises(NotFound):
        other.declare_queue(queue, passive=True)


def test_delete_if_unused_if_empty_and_counts(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    transport.publish("", queue, b"x")
    with pytest.raises(PreconditionFailed, match=f"queue '{queue}' in vhost '/' not empty"):
        transport.delete_queue(queue, if_empty=True)
    transport.publish("", queue, b"y")
    assert transport.purge_queue(queue) == 2
    transport.publish("", queue, b"z")
    assert transport.delete_queue(queue) == 1


def test_message_ttl_lower_of_queue_and_message_expires_only_at_head(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    queue = names.queue()
    transport.declare_queue(queue, arguments={"x-message-ttl": 60_000})
    transport.publish("", queue, b"long", Properties(expiration="60000"))
    transport.publish("", queue, b"short", Properties(expiration="100"))
    elapse(0.4)
    # "short" expired but sits behind "long": still counted until it reaches the head
    assert transport.declare_queue(queue, arguments={"x-message-ttl": 60_000}).message_count == 2
    delivery = transport.get(queue)
    assert delivery is not None and delivery.body == b"long"
    transport.ack(delivery.delivery_tag)
    assert transport.get(queue) is None


def test_dead_lettering_on_reject_expiry_and_maxlen_with_x_death(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    dlx, dead = names.exchange("dlx"), names.queue("dead")
    transport.declare_exchange(dlx, "fanout")
    transport.declare_queue(dead)
    transport.bind_queue(dead, dlx)
    source = names.queue("source")
    transport.declare_queue(source, arguments={
        "x-dead-letter-exchange": dlx, "x-message-ttl": 200, "x-max-length": 2})
    transport.publish("", source, b"rejected", Properties(headers={"h": 1}))
    delivery = transport.get(source)
    assert delivery is not None
    transport.reject(delivery.delivery_tag, requeue=False)
    for body in (b"m1", b"m2", b"m3"):
        transport.publish("", source, body)  # m1 falls off the head: maxlen
    elapse(0.5)  # m2, m3 expire
    got = []
    while (d := transport.get(dead, auto_ack=True)) is not None:
        got.append(d)
    assert [d.body for d in got] == [b"rejected", b"m1", b"m2", b"m3"]
    reasons = []
    for d in got:
        headers = dict(d.properties.headers or {})
        (death,) = headers["x-death"]
        assert death["queue"] == source
        assert death["count"] == 1
        assert death["exchange"] == ""
        assert death["routing-keys"] == [source]
        assert headers["x-first-death-queue"] == source
        assert d.exchange == dlx and d.routing_key == source
        reasons.append(death["reason"])
    assert reasons == ["rejected", "maxlen", "expired", "expired"]
    assert dict(got[0].properties.headers or {})["h"] == 1


def test_dead_letter_routing_key_and_original_expiration(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    dead = names.queue("dead")
    transport.declare_queue(dead)
    source = names.queue("source")
    transport.declare_queue(source, arguments={
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})
    transport.publish("", source, b"m", Properties(expiration="100"))
    elapse(0.3)
    assert transport.get(source) is None
    delivery = transport.get(dead, auto_ack=True)
    assert delivery is not None and delivery.routing_key == dead
    assert delivery.properties.expiration is None
    (death,) = dict(delivery.properties.headers or {})["x-death"]
    assert death["original-expiration"] == "100"
    assert death["reason"] == "expired"


@pytest.mark.parametrize("overflow", ["reject-publish", "reject-publish-dlx"])
def test_reject_publish_overflow_nacks(transport: Transport, names: Names, overflow: str) -> None:
    dlx_queue = names.queue("dead")
    transport.declare_queue(dlx_queue)
    queue = names.queue()
    transport.declare_queue(queue, arguments={
        "x-max-length": 1, "x-overflow": overflow,
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlx_queue})
    transport.publish("", queue, b"kept")
    with pytest.raises(PublishNacked):
        transport.publish("", queue, b"refused")
    assert drain_bodies(transport, queue) == [b"kept"]
    expected = [b"refused"] if overflow == "reject-publish-dlx" else []
    assert drain_bodies(transport, dlx_queue) == expected


def test_max_length_bytes_drops_from_head(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue, arguments={"x-max-length-bytes": 10})
    for body in (b"aaaa", b"bbbb", b"cccc"):
        transport.publish("", queue, body)
    assert drain_bodies(transport, queue) == [b"bbbb", b"cccc"]


def test_priority_queue_delivers_highest_first(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue, arguments={"x-max-priority": 5})
    for body, priority in ((b"low", 1), (b"none", None), (b"high", 5), (b"over", 9),
                           (b"mid", 3)):
        transport.publish("", queue, body, Properties(priority=priority))
    assert drain_bodies(transport, queue) == [b"high", b"over", b"mid", b"low", b"none"]


def test_queue_expires_when_unused(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    queue = names.queue()
    transport.declare_queue(queue, arguments={"x-expires": 300})
    elapse(0.1)
    transport.declare_queue(queue, passive=True)
    elapse(0.8)
    with pytest.raises(NotFound):
        transport.declare_queue(queue, passive=True)


def test_persistent_flag_round_trips(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue, durable=True)
    transport.publish("", queue, b"p", Properties(delivery_mode=DeliveryMode.PERSISTENT))
    delivery = transport.get(queue, auto_ack=True)
    assert delivery is not None and delivery.properties.persistent


def test_requeue_into_a_full_queue_drops_from_the_head(
    transport: Transport, names: Names
) -> None:
    dead = names.queue("dead")
    transport.declare_queue(dead)
    queue = names.queue()
    transport.declare_queue(queue, arguments={
        "x-max-length": 2, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})
    transport.publish("", queue, b"first")
    taken = transport.get(queue)
    assert taken is not None
    transport.publish("", queue, b"second")
    transport.publish("", queue, b"third")
    transport.nack(taken.delivery_tag, requeue=True)  # back at the head: over the limit
    assert drain_bodies(transport, queue) == [b"second", b"third"]
    assert drain_bodies(transport, dead) == [b"first"]
