"""The memory broker's routing, without a server.

The explicit cases below were each observed on RabbitMQ 3.10.8 (floats were sent with an
encoder for AMQP's ``d`` type, which pika lacks); ``test_routing_rabbitmq.py`` keeps checking
random cases against a live server.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika.compat import long

from msgbus.errors import PreconditionFailed
from msgbus.values import ExchangeType
from tests.property import strategies as s
from transports.memory.erlang_terms import erlang_repr, field_value
from transports.memory.routing import (
    DirectRouter,
    FanoutRouter,
    HeadersRouter,
    Router,
    TopicRouter,
    explain_headers,
    explain_topic,
    headers_match,
    router_for,
    split_topic,
    topic_matches,
    validate_binding_arguments,
)

# -- topic -------------------------------------------------------------------------------

TOPIC_CASES = [
    # (pattern, routing key, matches)
    ("a.#", "a", True), ("#.b", "b", True), ("#", "", True), ("#.#", "", True),
    ("", "", True), ("*", "", False), ("", "a", False), ("*", "a", True), ("*", "a.b", False),
    ("#", ".", True), ("*", ".", False), ("*.*", ".", True), (".", ".", True), (".", "", False),
    ("a.#.b", "a.b", True), ("a.#.b", "a.x.y.b", True), ("a.#.b", "a.x.y", False),
    ("a.*.b", "a.b", False), ("a.*.b", "a..b", True), ("a..b", "a..b", True),
    ("a..b", "a.b", False), ("a.", "a", False), ("a.", "a.", True), (".a", ".a", True),
    ("#.", "", False), ("#.", ".", True), ("#.", "a.", True), (".#", "", False),
    ("#.#", "a.b.c", True), ("#.*", "", False), ("#.*", "a", True), ("*.#", "a", True),
    ("#.a.#", "x.a.y", True), ("#.a.#", "a", True), ("#.a.#", "b", False),
    ("a#", "a", False), ("a#", "a#", True), ("*a", "a", False), ("**", "**", True),
    ("**", "a", False), ("*", "*", True), ("*", "#", True), ("#", "#.*", True),
    ("a.*", "a.*", True), ("a.#", "a.#", True), ("a.b", "a.*", False),
    ("*.*.*", "a..", True), ("a.#.#.b", "a.b", True), ("a.*.#", "a", False),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), TOPIC_CASES)
def test_topic_known_cases(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected
    router: TopicRouter[str] = TopicRouter()
    router.bind(pattern, {}, "q")
    assert router.route(key, None) == ({"q"} if expected else set())
    assert explain_topic(pattern, key)[-1] == ("=> match" if expected else "=> no match")


def test_split_topic_counts_empty_words() -> None:
    assert split_topic("") == []
    assert split_topic(".") == ["", ""]
    assert split_topic("a..b") == ["a", "", "b"]


@given(st.lists(s.topic_patterns, max_size=12), st.lists(s.routing_keys, min_size=1, max_size=5))
def test_topic_trie_agrees_with_reference(patterns: list[str], keys: list[str]) -> None:
    router: TopicRouter[int] = TopicRouter()
    for index, pattern in enumerate(patterns):
        router.bind(pattern, {}, index)
    for key in keys:
        expected = {i for i, pattern in enumerate(patterns) if topic_matches(pattern, key)}
        assert router.route(key, None) == expected


@given(s.topic_patterns, s.routing_keys)
def test_explain_topic_agrees_with_matcher(pattern: str, key: str) -> None:
    lines = explain_topic(pattern, key)
    assert lines[-1] == ("=> match" if topic_matches(pattern, key) else "=> no match")


@given(st.lists(s.topic_patterns, min_size=1, max_size=10), st.data())
def test_topic_unbind_prunes_and_keeps_the_rest(patterns: list[str], data: st.DataObject) -> None:
    router: TopicRouter[int] = TopicRouter()
    for index, pattern in enumerate(patterns):
        router.bind(pattern, {}, index)
    gone = data.draw(st.sets(st.integers(0, len(patterns) - 1)))
    for index in gone:
        assert router.unbind(patterns[index], {}, index)
    key = data.draw(s.routing_keys)
    expected = {i for i, p in enumerate(patterns) if i not in gone and topic_matches(p, key)}
    assert router.route(key, None) == expected
    if len(gone) == len(patterns):
        assert router._root.children == {}  # nothing left behind in the trie


def test_hash_hash_patterns_do_not_explode() -> None:
    router: TopicRouter[str] = TopicRouter()
    router.bind(".".join(["#"] * 20), {}, "q")
    router.bind(".".join(["#", "*"] * 10) + ".z", {}, "r")
    assert router.route(".".join(["a"] * 100), None) == {"q"}


# -- headers -----------------------------------------------------------------------------

D = decimal.Decimal
HEADERS_CASES: list[tuple[dict[str, Any], dict[str, Any] | None, bool]] = [
    # (binding arguments, message headers, matches)
    ({}, None, True), ({}, {"z": 1}, True), ({"x-match": "all"}, None, True),
    ({"x-match": "any"}, None, False), ({"x-match": "any"}, {"z": 1}, False),
    ({"a": 1, "b": 2}, {"a": 1}, False), ({"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}, True),
    ({"x-match": "any", "a": 1, "b": 2}, {"b": 2}, True),
    # x- keys: ignored with all/any; with the -with-x kinds only x-match itself is ignored
    ({"x-match": "all", "x-foo": 1, "a": 1}, {"a": 1}, True),
    ({"x-match": "any", "x-foo": 1}, {"x-foo": 1}, False),
    ({"x-match": "any-with-x", "x-foo": 1}, {"x-foo": 1}, True),
    ({"x-match": "any-with-x", "x-foo": 1}, {"x-match": "any-with-x"}, False),
    ({"x-match": "all-with-x", "a": 1}, {"a": 1}, True),
    ({"x-match": "all-with-x", "x-": 1}, {"x-": 1}, True),
    ({"x-match": "all-with-x", "x-": 1}, {}, False),
    ({"x-": 1}, {}, True), ({"X-foo": 1}, {}, False), ({"X-foo": 1}, {"X-foo": 1}, True),
    # void binding values ask for presence only
    ({"a": None}, {"a": "x"}, True), ({"a": None}, {"a": None}, True),
    ({"a": None}, {}, False), ({"a": None}, {"b": None}, False),
    ({"x-match": "any", "a": None, "b": 2}, {"a": 1}, True),
    ({"a": "undefined"}, {"a": None}, False),
    # top level: Erlang == on values
    ({"a": 1}, {"a": 1.0}, True), ({"a": 1.0}, {"a": 1}, True), ({"a": 1}, {"a": 1.5}, False),
    ({"a": 1}, {"a": True}, False), ({"a": True}, {"a": 1}, False),
    ({"a": 1}, {"a": "1"}, False), ({"a": False}, {"a": 0}, False),
    ({"a": False}, {"a": None}, False), ({"a": 0.0}, {"a": -0.0}, True),
    ({"a": 2**53 + 1}, {"a": float(2**53)}, False), ({"a": 2**53 + 1}, {"a": 2**53 + 1}, True),
    ({"a": 2**40}, {"a": 2.0**40}, True),
    ({"a": "x"}, {"a": b"x"}, True), ({"a": b"x"}, {"a": "x"}, True),
    ({"a": "x"}, {"a": "X"}, False), ({"a": True}, {"a": "true"}, False),
    ({"t": []}, {"t": {}}, True), ({"t": []}, {"t": ""}, False),
    ({"a": D("1.5")}, {"a": D("1.50")}, True), ({"a": D("1.5")}, {"a": 1.5}, False),
    ({"a": D("1.5")}, {"a": D("15")}, False),
    ({"a": datetime(2020, 1, 1)}, {"a": 1577836800}, True),
    ({"a": datetime(2020, 1, 1)}, {"a": 1577836800.0}, True),
    # inside tables and arrays: types and table order matter
    ({"t": {"a": 1}}, {"t": {"a": 1.0}}, False), ({"t": {"a": 1}}, {"t": {"a": long(1)}}, False),
    ({"a": 1}, {"a": long(1)}, True),
    ({"t": {"a": 2**40}}, {"t": {"a": 2**40}}, True),
    ({"t": {"a": 1, "b": 2}}, {"t": {"b": 2, "a": 1}}, False),
    ({"t": {"a": "x"}}, {"t": {"a": b"x"}}, False), ({"t": [1, "x"]}, {"t": [1, "x"]}, True),
    ({"t": [1, "x"]}, {"t": [1.0, "x"]}, False), ({"t": [1, "x"]}, {"t": [1, b"x"]}, False),
    ({"t": [1, "x"]}, {"t": ["x", 1]}, False),
    # binding argument order does not matter
    ({"b": 1, "a": 1}, {"a": 1, "b": 1}, True),
]


@pytest.mark.parametrize(("arguments", "headers", "expected"), HEADERS_CASES)
def test_headers_known_cases(
    arguments: dict[str, Any], headers: dict[str, Any] | None, expected: bool
) -> None:
    assert headers_match(arguments, headers) is expected
    router: HeadersRouter[str] = HeadersRouter()
    router.bind("", arguments, "q")
    assert router.route("ignored", headers) == ({"q"} if expected else set())
    assert explain_headers(arguments, headers)[-1] == ("=> match" if expected else "=> no match")


@given(s.header_tables(), st.sampled_from(["all", "all-with-x"]))
def test_headers_match_themselves(headers: dict[str, Any] | None, kind: str) -> None:
    assert headers_match({**(headers or {}), "x-match": kind}, headers)


@given(s.headers_bindings(), s.header_tables())
def test_headers_all_and_any_are_per_key(arguments: dict[str, Any],
                                         headers: dict[str, Any] | None) -> None:
    kind = arguments.get("x-match", "all")
    keys = [k for k in arguments if k != "x-match" and (kind.endswith("-with-x")
                                                       or not k.startswith("x-"))]
    singles = [headers_match({"x-match": "all-with-x", k: arguments[k]}, headers) for k in keys]
    expected = any(singles) if kind.startswith("any") else all(singles)
    assert headers_match(arguments, headers) is expected


@given(s.headers_bindings(), s.header_tables(), st.dictionaries(st.just("zz"), s.field_values()))
def test_headers_unrelated_headers_change_nothing(
    arguments: dict[str, Any], headers: dict[str, Any] | None, extra: dict[str, Any]
) -> None:
    assert headers_match(arguments, headers) is headers_match(arguments, {**(headers or {}),
                                                                           **extra})


@given(s.field_values())
def test_field_values_equal_themselves(value: Any) -> None:
    assert field_value(value) == field_value(value)


# -- bindings: identity, unbind, routers -------------------------------------------------

ROUTER_TYPES: list[type[Router[Any]]] = [DirectRouter, FanoutRouter, TopicRouter, HeadersRouter]


@pytest.mark.parametrize("cls", ROUTER_TYPES)
@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True), ({}, None, True), ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1.0}, False), ({"a": 1}, {"a": long(1)}, False),
        ({"a": 2**40}, {"a": long(2**40)}, True),
        ({"a": "x"}, {"a": b"x"}, False), ({"t": {}}, {"t": []}, False),
        ({"t": {"a": 1, "b": 2}}, {"t": {"b": 2, "a": 1}}, False), ({"a": 1}, {"a": True}, False),
        ({"a": D("1.5")}, {"a": D("1.50")}, True),
    ],
)
def test_binding_identity(cls: type[Router[str]], first: dict[str, Any] | None,
                          second: dict[str, Any] | None, same: bool) -> None:
    router = cls()
    assert router.bind("k", first, "q")
    assert router.bind("k", second, "q") is not same
    assert len(router) == (1 if same else 2)
    assert router.route("k", {"a": 1}) <= {"q"}
    assert router.unbind("k", second, "q")
    assert not router.unbind("k", second, "q")
    assert len(router) == (0 if same else 1)


@pytest.mark.parametrize("cls", ROUTER_TYPES)
def test_routes_each_destination_once_and_unbinds_by_destination(cls: type[Router[str]]) -> None:
    router = cls()
    for arguments in ({}, {"x-match": "any"}, {"a": 1}):
        for destination in ("q1", "q2"):
            router.bind("k", arguments, destination)
    router.bind("other", {}, "q1")
    assert [b[2] for b in router.bindings()] == ["q1", "q2"] * 3 + ["q1"]
    assert router.route("k", {"a": 1}) == {"q1", "q2"}
    assert router.unbind_destination("q1") == 4
    assert router.unbind_destination("q1") == 0
    assert router.route("k", {"a": 1}) == {"q2"}
    assert len(router) == 3
    assert router.unbind_destination("q2") == 3
    assert router.route("k", {"a": 1}) == set() and router.bindings() == []


def _model_route(kind: str, bindings: list[tuple[str, Mapping[str, Any], int]], key: str,
                 headers: Mapping[str, Any] | None) -> set[int]:
    def hit(pattern: str, arguments: Mapping[str, Any]) -> bool:
        return {"direct": pattern == key, "fanout": True, "topic": topic_matches(pattern, key),
                "headers": headers_match(arguments, headers)}[kind]
    return {destination for pattern, arguments, destination in bindings if hit(pattern, arguments)}


@given(st.sampled_from(["direct", "fanout", "topic", "headers"]), s.binding_operations,
       s.routing_keys | st.sampled_from(["a", "a.b"]), s.header_tables())
def test_router_agrees_with_a_list_of_bindings(
    kind: str, ops: list[tuple[str, str, dict[str, Any], int]], key: str,
    headers: dict[str, Any] | None,
) -> None:
    router: Router[int] = router_for(kind)
    model: list[tuple[str, Mapping[str, Any], int]] = []
    for op, pattern, arguments, destination in ops:
        same = [b for b in model if b[0] == pattern and b[2] == destination
                and _args_equal(b[1], arguments)]
        if op == "bind":
            assert router.bind(pattern, arguments, destination) is not bool(same)
            model += [] if same else [(pattern, arguments, destination)]
        elif op == "unbind":
            assert router.unbind(pattern, arguments, destination) is bool(same)
            model = [b for b in model if b not in same]
        else:
            assert router.unbind_destination(destination) == sum(b[2] == destination
                                                                  for b in model)
            model = [b for b in model if b[2] != destination]
    assert len(router) == len(model)
    assert [(b[0], b[2]) for b in router.bindings()] == [(b[0], b[2]) for b in model]
    assert router.route(key, headers) == _model_route(kind, model, key, headers)


def _args_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """RabbitMQ's binding-argument equality, spelled out independently of the router."""
    return a.keys() == b.keys() and all(field_value(a[k]) == field_value(b[k]) for k in a)


@pytest.mark.parametrize("kind", [*ExchangeType, "direct", "fanout", "topic", "headers"])
def test_router_for_known_types(kind: str) -> None:
    router = router_for(kind)
    assert len(router) == 0 and router.route("k", None) == set()


@pytest.mark.parametrize("kind", ["x-consistent-hash", "Direct", "", "match"])
def test_router_for_unknown_type(kind: str) -> None:
    with pytest.raises(ValueError, match="unknown exchange type"):
        router_for(kind)


# -- bind-time validation: RabbitMQ's exact reply texts ------------------------------------

X_MATCH_TAIL = "; expected all, any, all-with-x, or any-with-x"
TYPE_TAIL = "); expected longstr"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("foo", 'Invalid x-match field value <<"foo">>' + X_MATCH_TAIL),
        ("ALL", 'Invalid x-match field value <<"ALL">>' + X_MATCH_TAIL),
        ("", "Invalid x-match field value <<>>" + X_MATCH_TAIL),
        ("all ", 'Invalid x-match field value <<"all ">>' + X_MATCH_TAIL),
        ("fóo", 'Invalid x-match field value <<"fóo">>' + X_MATCH_TAIL),
        ("€", "Invalid x-match field value <<226,130,172>>" + X_MATCH_TAIL),
        ("\x01\x7f", "Invalid x-match field value <<1,127>>" + X_MATCH_TAIL),
        ('a"b', 'Invalid x-match field value <<"a\\"b">>' + X_MATCH_TAIL),
        ("a\\b", 'Invalid x-match field value <<"a\\\\b">>' + X_MATCH_TAIL),
        ("a\nb\t", 'Invalid x-match field value <<"a\\nb\\t">>' + X_MATCH_TAIL),
        (b"all", 'Invalid x-match field type binary (value <<"all">>' + TYPE_TAIL),
        (b"\x00\xff", "Invalid x-match field type binary (value <<0,255>>" + TYPE_TAIL),
        (b"\xa0", 'Invalid x-match field type binary (value <<"\ufffd">>' + TYPE_TAIL),
        (bytes(range(1, 48)), "Invalid x-match field type binary (value "
         "<<1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,\n" + " " * 43 + "16,17,18,19,20,21,22,23,24,"
         "25,26,27,\n" + " " * 43 + "28,29,30,31,32,33,34,35,36,37,38,39,\n" + " " * 43
         + "40,41,42,43,44,45,46,47>>" + TYPE_TAIL),
        ({"a": 0, "b": None}, 'Invalid x-match field type table (value [{<<"a">>,signedint,0},\n'
         + " " * 41 + '{<<"b">>,void,undefined}]' + TYPE_TAIL),
        (["x" * 30, 1], 'Invalid x-match field type array (value [{longstr,\n' + " " * 42
         + '<<"' + "x" * 30 + '">>},\n' + " " * 41 + "{signedint,1}]" + TYPE_TAIL),
        (1, "Invalid x-match field type signedint (value 1" + TYPE_TAIL),
        (-5, "Invalid x-match field type signedint (value -5" + TYPE_TAIL),
        (2**40, "Invalid x-match field type long (value 1099511627776" + TYPE_TAIL),
        (True, "Invalid x-match field type bool (value true" + TYPE_TAIL),
        (None, "Invalid x-match field type void (value undefined" + TYPE_TAIL),
        (1.5, "Invalid x-match field type double (value 1.5" + TYPE_TAIL),
        (1e10, "Invalid x-match field type double (value 1.0e10" + TYPE_TAIL),
        ({"a": 1}, 'Invalid x-match field type table (value [{<<"a">>,signedint,1}]' + TYPE_TAIL),
        ({}, "Invalid x-match field type table (value []" + TYPE_TAIL),
        ([1, "a"], 'Invalid x-match field type array (value [{signedint,1},{longstr,<<"a">>}]'
         + TYPE_TAIL),
        ([[1]], "Invalid x-match field type array (value [{array,[{signedint,1}]}]" + TYPE_TAIL),
        (D("1.50"), "Invalid x-match field type decimal (value {1,15}" + TYPE_TAIL),
        (D("-0.01"), "Invalid x-match field type decimal (value {2,4294967295}" + TYPE_TAIL),
        (datetime(2020, 1, 1), "Invalid x-match field type timestamp (value 1577836800"
         + TYPE_TAIL),
    ],
)
def test_bad_x_match_is_refused_with_rabbitmq_text(value: Any, text: str) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        validate_binding_arguments("headers", {"x-match": value, "a": 1})
    expected = f"PRECONDITION_FAILED - {text}"
    if len(expected.encode()) > 255:  # RabbitMQ cuts reply texts to 252 bytes and "..."
        expected = expected.encode()[:252].decode() + "..."
    assert raised.value.reply_text == expected
    assert raised.value.reply_code == 406


def test_long_reply_text_is_cut_to_255_bytes() -> None:
    with pytest.raises(PreconditionFailed) as raised:
        validate_binding_arguments("headers", {"x-match": "x" * 300})
    expected = 'PRECONDITION_FAILED - Invalid x-match field value <<"' + "x" * 300
    assert raised.value.reply_text == expected[:252] + "..."


@pytest.mark.parametrize("kind", ["all", "any", "all-with-x", "any-with-x"])
def test_good_x_match_passes(kind: str) -> None:
    validate_binding_arguments("headers", {"x-match": kind})
    validate_binding_arguments(ExchangeType.HEADERS, {"x-match": kind, "x-other": object})


@pytest.mark.parametrize("kind", ["direct", "fanout", "topic"])
def test_x_match_is_not_checked_on_other_exchange_types(kind: str) -> None:
    validate_binding_arguments(kind, {"x-match": "foo"})
    validate_binding_arguments("headers", None)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5"), (0.0001, "0.0001"), (0.00012, "1.2e-4"), (2.5e-7, "2.5e-7"), (100.0, "100.0"),
     (1000.0, "1.0e3"), (1200.0, "1.2e3"), (120.0, "120.0"), (123456.0, "123456.0"),
     (1e5, "1.0e5"), (123456789.123, "123456789.123"), (1e15, "1.0e15"),
     (2.0**53, "9.007199254740992e15"), (2.0**53 - 2, "9007199254740990.0"),
     (12345678901234567.0, "1.2345678901234568e16"), (-0.0, "-0.0"), (0.0, "0.0"),
     (-1.5, "-1.5"), (5e-324, "5.0e-324"), (1.7976931348623157e308, "1.7976931348623157e308")],
)
def test_floats_print_as_erlang_prints_them(value: float, text: str) -> None:
    assert erlang_repr(value) == text
