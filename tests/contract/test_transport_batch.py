"""Contract: ``publish_batch`` — many messages, confirms awaited together — on every transport.

What the broker refuses (nacks, returns, an unknown exchange) is reported message by
message in :class:`~msgbus.errors.PublishBatchFailed`; everything else arrives, in order.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgbus import errors
from msgbus.transport import Transport
from msgbus.values import ExchangeType, Properties, Publication
from tests.support import Names, drain_bodies, wait_until


def failures(info: pytest.ExceptionInfo[errors.PublishBatchFailed]
             ) -> list[tuple[int, bytes, type[errors.MsgbusError]]]:
    return [(index, message.body, type(error)) for index, message, error in info.value.failed]


def test_a_batch_arrives_whole_and_in_order(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"before")
    props = Properties(content_type="text/plain", headers={"n": 1})
    transport.publish_batch(Publication("", q, b"%d" % i, props) for i in range(600))
    transport.publish("", q, b"after")
    bodies = drain_bodies(transport, q)
    assert bodies == [b"before", *(b"%d" % i for i in range(600)), b"after"]
    transport.publish_batch([Publication("", q, b"one")])
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b"one"
    assert delivery.properties == Properties()


def test_an_empty_batch_does_nothing(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish_batch([])
    assert transport.get(q) is None


def test_returned_mandatory_messages_are_named_the_rest_arrive(
    transport: Transport, names: Names
) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.HEADERS)
    transport.declare_queue(q)
    transport.bind_queue(q, x, arguments={"x-match": "all", "to": "q"})
    routed, lost = Properties(headers={"to": "q"}), Properties(headers={"to": "nowhere"})
    batch = [  # same exchange, key and body: only the headers tell them apart
        Publication(x, "", b"same", lost),
        Publication(x, "", b"same", routed),
        Publication(x, "", b"same", lost),
        Publication(x, "", b"other", routed),
    ]
    with pytest.raises(errors.PublishBatchFailed) as info:
        transport.publish_batch(batch, mandatory=True)
    assert failures(info) == [(0, b"same", errors.Unroutable), (2, b"same", errors.Unroutable)]
    assert info.value.total == 4
    assert info.value.failed[0][1] == batch[0]
    unroutable = info.value.failed[0][2]
    assert isinstance(unroutable, errors.Unroutable)
    assert (unroutable.reply_code, unroutable.reply_text) == (312, "NO_ROUTE")
    assert drain_bodies(transport, q) == [b"same", b"other"]


def test_nacked_messages_are_named(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    with pytest.raises(errors.PublishBatchFailed) as info:
        transport.publish_batch(Publication("", q, b"%d" % i) for i in range(5))
    assert failures(info) == [(i, b"%d" % i, errors.PublishNacked) for i in (2, 3, 4)]
    assert "3 of the 5 messages" in str(info.value)
    assert drain_bodies(transport, q) == [b"0", b"1"]


def test_an_unknown_exchange_loses_that_message_and_the_later_ones(
    transport: Transport, names: Names
) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_queue(q)
    batch = [Publication("", q, b"0"), Publication("", q, b"1"), Publication(x, "k", b"2"),
             Publication("", q, b"3")]
    with pytest.raises(errors.PublishBatchFailed) as info:
        transport.publish_batch(batch)
    # RabbitMQ closes the channel before the confirms of the messages just before the
    # culprit are out, and drops them: those are named too, though they were delivered
    named = failures(info)
    assert named[-2:] == [(2, b"2", errors.NotFound), (3, b"3", errors.NotFound)]
    assert all(error is errors.NotFound for _index, _body, error in named)
    assert [index for index, _body, _error in named[:-2]] in ([], [1], [0, 1])
    error = info.value.failed[-1][2]
    assert isinstance(error, errors.NotFound)
    assert error.reply_text == f"NOT_FOUND - no exchange '{x}' in vhost '/'"
    transport.publish_batch([Publication("", q, b"next")])  # the transport carries on
    assert drain_bodies(transport, q) == [b"0", b"1", b"next"]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (("", "q", b"tuple"), "publication #1: expected msgbus.Publication, got tuple"),
        (Publication("", 5, b"x"), "publication #1: routing key must be a str"),  # type: ignore[arg-type]
        (Publication("", "q", "text"), "publication #1: message body must be bytes"),  # type: ignore[arg-type]
        (Publication("", "k" * 256, b"x"), "publication #1: routing key must be at most 255"),
        (Publication("é" * 128, "", b"x"), "publication #1: exchange name must be at most 255"),
        (Publication("", "q", b"x", Properties(headers={"f": 1.5})),
         "publication #1: headers['f'] has a value of type float"),
    ],
)
def test_a_bad_publication_is_refused_before_anything_is_sent(
    transport: Transport, names: Names, bad: object, expected: str
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    with pytest.raises(errors.ValidationError) as info:
        transport.publish_batch([Publication("", q, b"good"), bad])  # type: ignore[list-item]
    assert str(info.value).startswith(expected)
    with pytest.raises(errors.ValidationError, match=r"iterable of msgbus\.Publication"):
        transport.publish_batch(Publication("", q, b"x"))  # type: ignore[arg-type]
    assert transport.get(q) is None


def test_without_confirms_a_batch_arrives_and_returns_go_to_the_callbacks(
    unconfirmed: Transport, names: Names
) -> None:
    q = names.queue()
    unconfirmed.declare_queue(q)
    returned: list[bytes] = []
    unconfirmed.add_return_callback(lambda message: returned.append(message.body))
    unconfirmed.publish_batch(
        [Publication("", q, b"a"), Publication("", names.queue("none"), b"lost"),
         Publication("", q, b"b")],
        mandatory=True,
    )
    assert drain_bodies(unconfirmed, q) == [b"a", b"b"]
    wait_until(unconfirmed, lambda: returned == [b"lost"])


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.sampled_from(["a", "b", "none"]), min_size=1, max_size=30))
def test_each_message_is_either_delivered_in_order_or_named(
    transport: Transport, names: Names, plan: list[str]
) -> None:
    x, qa, qb = names.exchange(), names.queue("a"), names.queue("b")
    transport.declare_exchange(x, ExchangeType.DIRECT, auto_delete=False)
    for queue, key in ((qa, "a"), (qb, "b")):
        transport.declare_queue(queue)
        transport.purge_queue(queue)
        transport.bind_queue(queue, x, key)
    batch = [Publication(x, key, b"%d" % i) for i, key in enumerate(plan)]
    try:
        transport.publish_batch(batch, mandatory=True)
        named: list[int] = []
    except errors.PublishBatchFailed as exc:
        assert {type(error) for _i, _m, error in exc.failed} == {errors.Unroutable}
        named = [index for index, _message, _error in exc.failed]
    assert named == [i for i, key in enumerate(plan) if key == "none"]
    for queue, key in ((qa, "a"), (qb, "b")):
        assert drain_bodies(transport, queue) == [b"%d" % i for i, k in enumerate(plan)
                                                  if k == key]
