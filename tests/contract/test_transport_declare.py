"""Contract: declaring, deleting and binding exchanges and queues, on every transport.

Expected reply texts are RabbitMQ 3.10's, copied from the server.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.transport import Transport
from msgbus.values import ExchangeType, QueueInfo
from tests.support import Names


def _routed(transport: Transport, queue: str) -> list[bytes]:
    """Drain ``queue`` with ``get`` (auto-ack) and return the bodies."""
    bodies = []
    while (delivery := transport.get(queue, auto_ack=True)) is not None:
        bodies.append(delivery.body)
    return bodies


# -- exchanges -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ExchangeType))
def test_declare_exchange_of_every_type_then_passive(
    transport: Transport, names: Names, kind: ExchangeType
) -> None:
    x = names.exchange()
    transport.declare_exchange(x, kind)
    transport.declare_exchange(x, kind)  # idempotent
    transport.declare_exchange(x, kind, passive=True)
    transport.declare_exchange(x, str(kind), passive=True)
    other = ExchangeType.FANOUT if kind is not ExchangeType.FANOUT else ExchangeType.DIRECT
    with pytest.raises(errors.PreconditionFailed, match=f"current is '{kind}'"):
        transport.declare_exchange(x, other)  # the exchange has the type it was declared with


def test_passive_declare_of_missing_exchange_is_not_found(
    transport: Transport, names: Names
) -> None:
    x = names.exchange()
    with pytest.raises(errors.NotFound) as info:
        transport.declare_exchange(x, passive=True)
    assert info.value.reply_code == 404
    assert info.value.reply_text == f"NOT_FOUND - no exchange '{x}' in vhost '/'"


def test_redeclare_exchange_with_other_type_is_precondition_failed(
    transport: Transport, names: Names
) -> None:
    x = names.exchange()
    transport.declare_exchange(x, ExchangeType.DIRECT)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.declare_exchange(x, ExchangeType.FANOUT)
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{x}' in vhost '/': "
        "received 'fanout' but current is 'direct'"
    )
    transport.declare_exchange(x, ExchangeType.DIRECT, passive=True)  # channel usable again


def test_redeclare_exchange_with_other_durability_is_precondition_failed(
    transport: Transport, names: Names
) -> None:
    x = names.exchange()
    transport.declare_exchange(x, durable=False)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.declare_exchange(x, durable=True)
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '{x}' in vhost '/': "
        "received 'true' but current is 'false'"
    )


def test_exchange_name_with_amq_prefix_is_access_refused(
    transport: Transport, names: Names
) -> None:
    x = "amq." + names.exchange()
    with pytest.raises(errors.AccessRefused) as info:
        transport.declare_exchange(x)
    assert info.value.reply_code == 403
    assert info.value.reply_text == (
        f"ACCESS_REFUSED - exchange name '{x}' contains reserved prefix 'amq.*'"
    )


def test_delete_exchange(transport: Transport, names: Names) -> None:
    x = names.exchange()
    transport.declare_exchange(x)
    transport.delete_exchange(x)
    with pytest.raises(errors.NotFound):
        transport.declare_exchange(x, passive=True)
    transport.delete_exchange(x)  # deleting what is gone is fine


def test_delete_exchange_if_unused_refuses_a_bound_exchange(
    transport: Transport, names: Names
) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x)
    transport.declare_queue(q)
    transport.bind_queue(q, x, "k")
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.delete_exchange(x, if_unused=True)
    assert info.value.reply_text == f"PRECONDITION_FAILED - exchange '{x}' in vhost '/' in use"
    transport.unbind_queue(q, x, "k")
    transport.delete_exchange(x, if_unused=True)
    with pytest.raises(errors.NotFound):
        transport.declare_exchange(x, passive=True)


# -- queues --------------------------------------------------------------------------


def test_declare_queue_returns_counts(transport: Transport, names: Names) -> None:
    q = names.queue()
    assert transport.declare_queue(q) == QueueInfo(q, 0, 0)
    transport.publish("", q, b"one")
    transport.publish("", q, b"two")
    assert transport.declare_queue(q, passive=True) == QueueInfo(q, 2, 0)
    transport.consume(q, lambda d: None)
    assert transport.declare_queue(q, passive=True).consumer_count == 1


def test_server_named_queue(transport: Transport, names: Names) -> None:
    info = transport.declare_queue("", exclusive=True)
    assert info.name.startswith("amq.gen-")
    transport.publish("", info.name, b"hi")
    delivery = transport.get(info.name, auto_ack=True)
    assert delivery is not None and delivery.body == b"hi"
    assert transport.declare_queue("", exclusive=True).name != info.name


def test_passive_declare_of_missing_queue_is_not_found(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    with pytest.raises(errors.NotFound) as info:
        transport.declare_queue(q, passive=True)
    assert info.value.reply_text == f"NOT_FOUND - no queue '{q}' in vhost '/'"
    assert transport.declare_queue(q).name == q  # a fresh channel took over


def test_redeclare_queue_with_other_durability_is_precondition_failed(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    transport.declare_queue(q, durable=True)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.declare_queue(q, durable=False)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{q}' in vhost '/': "
        "received 'false' but current is 'true'"
    )
    assert transport.declare_queue(q, durable=True).name == q


def test_queue_name_with_amq_prefix_is_access_refused(
    transport: Transport, names: Names
) -> None:
    q = "amq." + names.queue()
    with pytest.raises(errors.AccessRefused) as info:
        transport.declare_queue(q)
    assert info.value.reply_text == (
        f"ACCESS_REFUSED - queue name '{q}' contains reserved prefix 'amq.*'"
    )


def test_exclusive_queue_is_locked_to_its_connection(
    connect: Callable[[], Transport], names: Names
) -> None:
    owner, other = connect(), connect()
    q = names.queue()
    owner.declare_queue(q, exclusive=True)
    with pytest.raises(errors.ResourceLocked) as info:
        other.declare_queue(q, passive=True)
    assert info.value.reply_code == 405
    full = (
        f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{q}' in vhost '/'."
        " It could be originally declared on another connection or the exclusive property"
        " value does not match that of the original declaration."
    )
    # a reply text is an AMQP short string: the broker cuts it to 255 characters
    assert info.value.reply_text == (full if len(full) <= 255 else full[:252] + "...")
    owner.close()
    other.declare_queue(q, exclusive=True)  # the exclusive queue went with its connection
    assert other.declare_queue(q, passive=True).message_count == 0
    other.close()


def test_delete_queue_returns_message_count(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    for body in (b"a", b"b", b"c"):
        transport.publish("", q, body)
    assert transport.delete_queue(q) == 3
    with pytest.raises(errors.NotFound):
        transport.declare_queue(q, passive=True)
    assert transport.delete_queue(q) == 0  # deleting what is gone is fine


def test_delete_queue_if_empty_and_if_unused(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"a")
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.delete_queue(q, if_empty=True)
    assert info.value.reply_text == f"PRECONDITION_FAILED - queue '{q}' in vhost '/' not empty"
    consumer = transport.consume(q, lambda d: None, auto_ack=True)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.delete_queue(q, if_unused=True)
    assert info.value.reply_text == f"PRECONDITION_FAILED - queue '{q}' in vhost '/' in use"
    assert not consumer.active  # it was on the channel the error closed
    assert transport.delete_queue(q, if_unused=True) in (0, 1)
    with pytest.raises(errors.NotFound):
        transport.declare_queue(q, passive=True)


def test_purge_queue(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"a")
    transport.publish("", q, b"b")
    assert transport.purge_queue(q) == 2
    assert transport.get(q) is None
    other = names.queue("missing")
    with pytest.raises(errors.NotFound) as info:
        transport.purge_queue(other)
    assert info.value.reply_text == f"NOT_FOUND - no queue '{other}' in vhost '/'"


# -- bindings --------------------------------------------------------------------------


def test_bind_and_unbind_queue(transport: Transport, names: Names) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.DIRECT)
    transport.declare_queue(q)
    transport.bind_queue(q, x, "red")
    transport.publish(x, "red", b"1")
    transport.publish(x, "blue", b"2")
    assert _routed(transport, q) == [b"1"]
    transport.unbind_queue(q, x, "red")
    transport.publish(x, "red", b"3")
    assert _routed(transport, q) == []


def test_topic_and_fanout_bindings(transport: Transport, names: Names) -> None:
    topic, fanout, q = names.exchange("topic"), names.exchange("fanout"), names.queue()
    transport.declare_exchange(topic, ExchangeType.TOPIC)
    transport.declare_exchange(fanout, ExchangeType.FANOUT)
    transport.declare_queue(q)
    transport.bind_queue(q, topic, "a.#")
    transport.bind_queue(q, fanout, "ignored")
    for key in ("a", "a.b.c", "b.a"):
        transport.publish(topic, key, key.encode())
    transport.publish(fanout, "anything", b"fan")
    assert _routed(transport, q) == [b"a", b"a.b.c", b"fan"]


def test_headers_binding(transport: Transport, names: Names) -> None:
    from msgbus.values import Properties

    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.HEADERS)
    transport.declare_queue(q)
    transport.bind_queue(q, x, "", {"x-match": "all", "kind": "job", "level": 2})
    transport.publish(x, "", b"yes", Properties(headers={"kind": "job", "level": 2}))
    transport.publish(x, "", b"no", Properties(headers={"kind": "job"}))
    assert _routed(transport, q) == [b"yes"]
    transport.unbind_queue(q, x, "", {"x-match": "all", "kind": "job", "level": 2})
    transport.publish(x, "", b"gone", Properties(headers={"kind": "job", "level": 2}))
    assert _routed(transport, q) == []


def test_bind_exchange_to_exchange(transport: Transport, names: Names) -> None:
    source, destination, q = names.exchange("src"), names.exchange("dst"), names.queue()
    transport.declare_exchange(source, ExchangeType.TOPIC)
    transport.declare_exchange(destination, ExchangeType.FANOUT)
    transport.declare_queue(q)
    transport.bind_queue(q, destination)
    transport.bind_exchange(destination, source, "logs.*")
    transport.publish(source, "logs.error", b"e")
    transport.publish(source, "metrics.cpu", b"m")
    assert _routed(transport, q) == [b"e"]
    transport.unbind_exchange(destination, source, "logs.*")
    transport.publish(source, "logs.error", b"e2")
    assert _routed(transport, q) == []


def test_bind_to_missing_exchange_or_queue_is_not_found(
    transport: Transport, names: Names
) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_queue(q)
    with pytest.raises(errors.NotFound) as info:
        transport.bind_queue(q, x, "k")
    assert info.value.reply_text == f"NOT_FOUND - no exchange '{x}' in vhost '/'"
    transport.declare_exchange(x)
    missing = names.queue("missing")
    with pytest.raises(errors.NotFound) as info:
        transport.bind_queue(missing, x, "k")
    assert info.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"


def test_deleting_a_queue_removes_its_bindings(transport: Transport, names: Names) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.FANOUT)
    transport.declare_queue(q)
    transport.bind_queue(q, x)
    transport.publish(x, "", b"routed")
    assert _routed(transport, q) == [b"routed"]
    transport.delete_queue(q)
    transport.declare_queue(q)
    transport.publish(x, "", b"lost")
    assert _routed(transport, q) == []


def test_durable_declarations_are_accepted(transport: Transport, names: Names) -> None:
    # what a restart keeps is in test_broker_durability; here: they are made durable, and
    # route like any other
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.TOPIC, durable=True)
    transport.declare_queue(q, durable=True)
    transport.bind_queue(q, x, "#")
    transport.declare_exchange(x, ExchangeType.TOPIC, durable=True, passive=True)
    assert transport.declare_queue(q, durable=True, passive=True).name == q
    transport.publish(x, "a.b", b"routed")
    assert _routed(transport, q) == [b"routed"]
    with pytest.raises(errors.PreconditionFailed, match="received 'false' but current is 'true'"):
        transport.declare_exchange(x, ExchangeType.TOPIC, durable=False)
    with pytest.raises(errors.PreconditionFailed, match="received 'false' but current is 'true'"):
        transport.declare_queue(q, durable=False)
