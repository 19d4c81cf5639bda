"""Routing, on every transport: exchange types, exchange-to-exchange bindings, alternate
exchanges, mandatory returns, CC/BCC."""

from __future__ import annotations

import pytest

from msgbus import ExchangeType, Properties, Unroutable
from msgbus.transport import Transport
from msgbus.values import ReturnedMessage
from tests.support import Names, drain_bodies, wait_until


def _bound_queue(t: Transport, names: Names, exchange: str, key: str = "",
                 arguments: dict[str, object] | None = None, label: str = "q") -> str:
    queue = names.queue(label)
    t.declare_queue(queue)
    t.bind_queue(queue, exchange, key, arguments)
    return queue


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#.b", "b", True),
        ("#", "", True),
        ("*", "", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.*.b", "a..b", True),
        ("#.#", "x", True),
        ("", "", True),
        ("", "a", False),
        ("a", "a.", False),
    ],
)
def test_topic_patterns_match_as_rabbitmq_does(
    transport: Transport, names: Names, pattern: str, key: str, matches: bool
) -> None:
    exchange = names.exchange()
    transport.declare_exchange(exchange, ExchangeType.TOPIC)
    queue = _bound_queue(transport, names, exchange, pattern)
    transport.publish(exchange, key, b"m")
    assert drain_bodies(transport, queue) == ([b"m"] if matches else [])


def test_direct_fanout_and_default_exchange(transport: Transport, names: Names) -> None:
    direct, fanout = names.exchange("d"), names.exchange("f")
    transport.declare_exchange(direct, "direct")
    transport.declare_exchange(fanout, "fanout")
    q1 = _bound_queue(transport, names, direct, "k1", label="q1")
    q2 = _bound_queue(transport, names, fanout, "ignored", label="q2")
    transport.bind_queue(q2, direct, "k1")
    transport.publish(direct, "k1", b"d1")
    transport.publish(direct, "k2", b"d2")
    transport.publish(fanout, "anything", b"f1")
    transport.publish("", q1, b"default")
    assert drain_bodies(transport, q1) == [b"d1", b"default"]
    assert drain_bodies(transport, q2) == [b"d1", b"f1"]


@pytest.mark.parametrize(
    ("binding", "headers", "matches"),
    [
        ({"x-match": "all", "a": 1, "b": "x"}, {"a": 1, "b": "x", "c": 3}, True),
        ({"x-match": "all", "a": 1, "b": "x"}, {"a": 1}, False),
        ({"x-match": "any", "a": 1, "b": "x"}, {"a": 2, "b": "x"}, True),
        ({"x-match": "any", "a": 1}, {"a": 2}, False),
        ({"a": 1}, {"a": 1}, True),
        ({"x-match": "all", "x-k": "v"}, {"x-k": "w"}, True),
        ({"x-match": "all-with-x", "x-k": "v"}, {"x-k": "w"}, False),
        ({"x-match": "any-with-x", "x-k": "v"}, {"x-k": "v"}, True),
        ({"x-match": "all"}, {}, True),
        ({"x-match": "all", "a": 1}, None, False),
    ],
)
def test_headers_exchange_matches_as_rabbitmq_does(
    transport: Transport, names: Names, binding: dict[str, object],
    headers: dict[str, object] | None, matches: bool,
) -> None:
    exchange = names.exchange()
    transport.declare_exchange(exchange, ExchangeType.HEADERS)
    queue = _bound_queue(transport, names, exchange, "", binding)
    transport.publish(exchange, "", b"h", Properties(headers=headers))
    assert drain_bodies(transport, queue) == ([b"h"] if matches else [])


def test_exchange_to_exchange_delivers_one_copy_per_queue(
    transport: Transport, names: Names
) -> None:
    top, left, right = names.exchange("top"), names.exchange("left"), names.exchange("right")
    for exchange in (top, left, right):
        transport.declare_exchange(exchange, "fanout")
    transport.bind_exchange(left, top)
    transport.bind_exchange(right, top)
    transport.bind_exchange(top, right)  # a cycle
    queue = _bound_queue(transport, names, left)
    transport.bind_queue(queue, right)
    transport.bind_queue(queue, top)
    transport.publish(top, "", b"once")
    assert drain_bodies(transport, queue) == [b"once"]


def test_alternate_exchange_takes_what_the_exchange_cannot_route(
    transport: Transport, names: Names
) -> None:
    main, alternate = names.exchange("main"), names.exchange("ae")
    transport.declare_exchange(alternate, "fanout")
    transport.declare_exchange(main, "direct", arguments={"alternate-exchange": alternate})
    routed = _bound_queue(transport, names, main, "known", label="routed")
    unrouted = _bound_queue(transport, names, alternate, label="unrouted")
    transport.publish(main, "known", b"1")
    transport.publish(main, "unknown", b"2")
    assert drain_bodies(transport, routed) == [b"1"]
    assert drain_bodies(transport, unrouted) == [b"2"]


def test_mandatory_unroutable_raises_under_confirms(transport: Transport, names: Names) -> None:
    exchange = names.exchange()
    transport.declare_exchange(exchange, "direct")
    with pytest.raises(Unroutable) as caught:
        transport.publish(exchange, "nowhere", b"lost?", mandatory=True)
    assert caught.value.reply_code == 312
    assert caught.value.reply_text == "NO_ROUTE"
    transport.publish(exchange, "nowhere", b"dropped silently")  # not mandatory: fine


def test_internal_exchange_refuses_publishes_but_routes_from_exchanges(
    transport: Transport, names: Names
) -> None:
    from msgbus import AccessRefused

    front, inner = names.exchange("front"), names.exchange("inner")
    transport.declare_exchange(front, "fanout")
    transport.declare_exchange(inner, "fanout", internal=True)
    transport.bind_exchange(inner, front)
    queue = _bound_queue(transport, names, inner)
    transport.publish(front, "", b"via front")
    assert drain_bodies(transport, queue) == [b"via front"]
    with pytest.raises(AccessRefused, match=r"cannot publish to internal exchange"):
        transport.publish(inner, "", b"direct")


def test_cc_and_bcc_headers_add_routing_keys(transport: Transport, names: Names) -> None:
    exchange = names.exchange()
    transport.declare_exchange(exchange, "direct")
    qa = _bound_queue(transport, names, exchange, "a", label="a")
    qb = _bound_queue(transport, names, exchange, "b", label="b")
    qc = _bound_queue(transport, names, exchange, "c", label="c")
    transport.publish(exchange, "a", b"m", Properties(headers={"CC": ["b"], "BCC": ["c"]}))
    got = {q: transport.get(q, auto_ack=True) for q in (qa, qb, qc)}
    assert all(d is not None for d in got.values())
    for delivery in got.values():
        assert delivery is not None
        assert delivery.routing_key == "a"
        assert delivery.properties.headers == {"CC": ["b"]}


def test_auto_delete_exchange_goes_with_its_last_binding(
    transport: Transport, names: Names
) -> None:
    from msgbus import NotFound

    exchange = names.exchange()
    transport.declare_exchange(exchange, "fanout", auto_delete=True)
    queue = _bound_queue(transport, names, exchange)
    transport.declare_exchange(exchange, "fanout", auto_delete=True, passive=True)
    transport.unbind_queue(queue, exchange)
    with pytest.raises(NotFound, match=rf"no exchange '{exchange}' in vhost '/'"):
        transport.declare_exchange(exchange, "fanout", passive=True)


def test_returned_messages_reach_return_callbacks_without_confirms(
    connect: object, names: Names, transport_kind: str, amqp_url_or_none: str | None
) -> None:
    from msgbus.transport import Transport as _T

    if transport_kind == "memory":
        from transports.memory import MemoryTransport

        assert callable(connect)
        probe = connect()
        assert isinstance(probe, MemoryTransport)
        t: _T = MemoryTransport(probe.broker, confirm_publishes=False)
    else:
        from transports.rabbitmq import RabbitMQTransport

        assert amqp_url_or_none is not None
        t = RabbitMQTransport.from_url(amqp_url_or_none, confirm_publishes=False)
    try:
        returned: list[ReturnedMessage] = []
        t.add_return_callback(returned.append)
        exchange = names.exchange()
        t.declare_exchange(exchange, "direct")
        t.publish(exchange, "nowhere", b"back", Properties(message_id="m1"), mandatory=True)
        wait_until(t, lambda: bool(returned))
        assert returned[0].body == b"back"
        assert (returned[0].reply_code, returned[0].reply_text) == (312, "NO_ROUTE")
        assert returned[0].properties.message_id == "m1"
    finally:
        t.close()
