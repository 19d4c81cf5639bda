"""Hypothesis strategies for routing: routing keys, topic patterns, headers and binding arguments;
and sequences of broker operations for the stateful test.

Values are drawn from small pools on purpose, so that random bindings and random messages
often agree, often almost agree (``1`` and ``True``, ``"a"`` and ``b"a"``, ``{}`` and ``[]``)
and the interesting cases come up in a few dozen examples.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from hypothesis import strategies as st

from msgbus.values import Properties, Publication

__all__ = [
    "CONNECTIONS",
    "EXCHANGES",
    "MATCH_KINDS",
    "QUEUES",
    "QUEUE_ARGUMENTS",
    "STATEFUL_KEYS",
    "STATEFUL_PATTERNS",
    "Bind",
    "Cancel",
    "Consume",
    "Declare",
    "Get",
    "Operation",
    "Publish",
    "Purge",
    "Reopen",
    "Settle",
    "Unbind",
    "bad_calls",
    "bad_ekses",
    "bad_eqks",
    "binding_arguments",
    "binding_operations",
    "field_values",
    "header_tables",
    "headers_bindings",
    "operations",
    "routing_keys",
    "sequences",
    "topic_patterns",
    "words",
    "x_match_values",
]

MATCH_KINDS = ("all", "any", "all-with-x", "any-with-x")

#: Words of routing keys: empty words, and ``*``/``#`` as plain characters or whole words.
words = st.one_of(
    st.sampled_from(["a", "b", "", "*", "#", "ab", "a*", "#b", "**"]),
    st.text(alphabet="ab*#", max_size=3),
)

#: Routing keys: up to six words joined by dots (``""`` is zero words, ``"."`` two).
routing_keys = st.lists(words, max_size=6).map(".".join)

#: Topic binding keys: literal words (empty ones included), ``*`` and ``#``.
topic_patterns = st.lists(
    st.sampled_from(["a", "b", "", "*", "#", "#", "*", "ab", "a*"]), max_size=5
).map(".".join)

_EPOCH_2020 = 1577836800


def field_values(*, floats: bool = True, max_leaves: int = 4) -> st.SearchStrategy[Any]:
    """Values an AMQP field table may hold, as Python values (pika's encoding).

    ``floats=False`` leaves out what pika cannot send (it has no encoder for ``float``).
    """
    scalars: list[st.SearchStrategy[Any]] = [
        st.sampled_from([0, 1, 2, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**40]),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.booleans(),
        st.none(),
        st.sampled_from(["", "a", "b", "1", "true", "undefined", "é"]),
        st.sampled_from([b"", b"a", b"1", b"\xff"]),
        st.text(alphabet="aZ é€\x00\"\\\n\U0001f600", max_size=3),
        st.sampled_from([decimal.Decimal("1.5"), decimal.Decimal("1.50"), decimal.Decimal("15"),
                         decimal.Decimal("-0.01"), decimal.Decimal("100")]),
        st.sampled_from([datetime(2020, 1, 1), datetime(1970, 1, 1, 0, 0, 1)]),
        st.sampled_from([_EPOCH_2020, 1]),
    ]
    if floats:
        scalars.append(st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0**40, float(_EPOCH_2020)]))
        scalars.append(st.floats(allow_nan=False, allow_infinity=False))
    keys = st.sampled_from(["a", "b", "c"])
    return st.recursive(
        st.one_of(scalars),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(keys, inner, max_size=3),
        ),
        max_leaves=max_leaves,
    )


#: Header names: a few plain ones and a few ``x-`` ones (ignored with x-match all/any).
header_names = st.sampled_from(["a", "b", "c", "A", "x-a", "x-", "X-b", "x-match"])


def header_tables(*, floats: bool = True) -> st.SearchStrategy[dict[str, Any] | None]:
    """Message headers: ``None`` (no headers property), ``{}``, or a small table."""
    return st.one_of(
        st.none(),
        st.dictionaries(header_names, field_values(floats=floats), max_size=5),
    )


def headers_bindings(*, floats: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments of a headers-exchange binding: maybe an ``x-match``, then header patterns."""
    patterns = st.dictionaries(
        header_names.filter(lambda name: name != "x-match"),
        st.one_of(st.none(), field_values(floats=floats, max_leaves=2)),
        max_size=4,
    )
    match: st.SearchStrategy[dict[str, str]] = st.one_of(
        st.just({}), st.sampled_from(MATCH_KINDS).map(lambda k: {"x-match": k})
    )
    return st.builds(lambda m, p: {**m, **p}, match, patterns)


def binding_arguments(*, floats: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Argument tables for binding identity: near-duplicates are likely (order, types)."""
    near = st.sampled_from([
        {}, {"a": 1}, {"a": True}, {"a": "1"}, {"a": b"1"}, {"a": None}, {"a": {}}, {"a": []},
        {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": {"x": 1, "y": 2}}, {"a": {"y": 2, "x": 1}},
        {"a": [1, 2]}, {"a": [2, 1]}, {"a": 2**40}, {"a": "x"}, {"a": b"x"},
    ])
    if floats:
        near = st.one_of(near, st.sampled_from([{"a": 1.0}, {"a": {"x": 1.0, "y": 2}}]))
    return st.one_of(near, st.dictionaries(st.sampled_from(["a", "b"]),
                                           field_values(floats=floats, max_leaves=2),
                                           max_size=2))


def x_match_values(*, floats: bool = False) -> st.SearchStrategy[Any]:
    """``x-match`` values, mostly invalid: strings with escapes and non-Latin-1 characters,
    near misses of the valid kinds, non-UTF-8 binaries, and values of every other type."""
    return st.one_of(
        st.text(alphabet='ab "\\\n\t\x01\x1b\x7f\xa0\xe9\xff\u0100\u20ac\U0001f600',
                max_size=40),
        st.text(alphabet="alnyx-", max_size=11),
        st.binary(max_size=10),
        field_values(floats=floats, max_leaves=2),
    )


#: Operations on one router: (bind | unbind | drop the destination, key, arguments, dest).
binding_operations = st.lists(
    st.tuples(st.sampled_from(["bind", "bind", "unbind", "drop"]),
              st.sampled_from(["a", "a.b", "#", "*.b", "a.#"]),
              binding_arguments(), st.integers(0, 3)),
    max_size=25,
)



# -- operation sequences for the stateful test -------------------------------------------
#
# Names are symbolic (``q0``, ``topic``, connection 0); the test maps them to real names.
# Which delivery or consumer an operation acts on is an index taken modulo what exists when
# it runs, so every sequence is valid whatever happened before it.

#: The queue pool, each always declared with the same arguments; ``q2`` keeps two messages.
QUEUES = ("q0", "q1", "q2")
QUEUE_ARGUMENTS: dict[str, dict[str, Any]] = {"q0": {}, "q1": {}, "q2": {"x-max-length": 2}}
#: One exchange of each type, named after its type.
EXCHANGES = ("direct", "topic", "fanout")
#: Routing keys and binding keys from a small alphabet, so that matches are frequent.
STATEFUL_KEYS = ("a", "b", "a.b", "b.a", "")
STATEFUL_PATTERNS = ("a", "b", "a.b", "*", "#", "a.#", "*.a")
#: How many client connections a sequence uses.
CONNECTIONS = 2

Verb = Literal["ack", "nack", "reject"]


@dataclass(frozen=True, slots=True)
class Declare:
    conn: int
    queue: str


@dataclass(frozen=True, slots=True)
class Bind:
    conn: int
    queue: str
    exchange: str
    key: str


@dataclass(frozen=True, slots=True)
class Unbind:
    conn: int
    queue: str
    exchange: str
    key: str


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish the next numbered body; ``exchange`` ``""`` is the default exchange, with
    ``key`` then naming a queue of the pool."""

    conn: int
    exchange: str
    key: str


@dataclass(frozen=True, slots=True)
class Get:
    conn: int
    queue: str
    auto_ack: bool


@dataclass(frozen=True, slots=True)
class Consume:
    conn: int
    queue: str
    prefetch: int
    auto_ack: bool


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the ``pick``-th active consumer (modulo how many there are)."""

    pick: int


@dataclass(frozen=True, slots=True)
class Settle:
    """Settle the ``pick``-th unacknowledged delivery held by connection ``conn``."""

    conn: int
    verb: Verb
    pick: int
    multiple: bool
    requeue: bool


@dataclass(frozen=True, slots=True)
class Reopen:
    """Close connection ``conn`` and open a new one in its place."""

    conn: int


@dataclass(frozen=True, slots=True)
class Purge:
    conn: int
    queue: str


Operation = Declare | Bind | Unbind | Publish | Get | Consume | Cancel | Settle | Reopen | Purge

_conns = st.integers(0, CONNECTIONS - 1)
_queues = st.sampled_from(QUEUES)
_picks = st.integers(0, 7)
_binding = st.tuples(
    _conns, _queues, st.sampled_from(EXCHANGES), st.sampled_from(STATEFUL_PATTERNS)
)
_publish = st.one_of(
    st.builds(Publish, _conns, st.sampled_from(EXCHANGES), st.sampled_from(STATEFUL_KEYS)),
    st.builds(Publish, _conns, st.just(""), _queues),
    st.builds(Publish, _conns, st.just(""), _queues),
)
_settle = st.builds(
    Settle, _conns, st.sampled_from(["ack", "nack", "reject"]), _picks, st.booleans(),
    st.booleans(),
)


def operations(*, consumers: bool = True) -> st.SearchStrategy[Operation]:
    """One broker operation; publishing and settling come up more often than the rest.
    ``consumers=False`` leaves out ``Consume`` (and so every asynchronous delivery)."""
    Choices = list[st.SearchStrategy[Operation]]
    publish: Choices = [_publish] * 5
    take: Choices = [st.builds(Get, _conns, _queues, st.just(False))] * 2 + [_settle] * 4
    take += [st.builds(Get, _conns, _queues, st.booleans())] * 2
    consume: Choices = [
        st.builds(Consume, _conns, _queues, st.sampled_from([0, 1, 2]), st.booleans()),
    ] * 2
    consume.append(st.builds(Cancel, _picks))
    rest: Choices = [
        _binding.map(lambda b: Bind(*b)),
        _binding.map(lambda b: Unbind(*b)),
        st.builds(Reopen, _conns),
        st.builds(Purge, _conns, _queues),
        st.builds(Declare, _conns, _queues),
    ]
    choices = publish + take + (consume if consumers else []) + rest
    # weighted by repetition (``one_of`` would count each distinct strategy once)
    return st.sampled_from(choices).flatmap(lambda chosen: chosen)


def sequences(*, consumers: bool = True, min_size: int = 0, max_size: int = 30
              ) -> st.SearchStrategy[list[Operation]]:
    """A run of operations after declaring the queues (``q1`` is sometimes left for the run
    to declare, so that some operations fail with 404 and close their channel) and binding
    some of them."""
    declared = st.booleans().map(
        lambda all_three: [Declare(0, q) for q in QUEUES if all_three or q != "q1"])
    bound = st.lists(_binding.map(lambda b: Bind(*b)), min_size=1, max_size=4)
    body = st.lists(operations(consumers=consumers), min_size=min_size, max_size=max_size)
    return st.builds(lambda d, b, o: [*d, *b, *o], declared, bound, body)


# -- bad input ------------------------------------------------------------------------------

#: Values of the wrong type for a str, bytes, int or bool parameter.
_not_str = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.binary(max_size=4),
                     st.lists(st.text(max_size=2), max_size=2), st.just(object()))
#: Text UTF-8 cannot encode: a lone surrogate somewhere in a short or a long string.
_surrogates = st.builds(
    lambda head, surrogate, tail: head + surrogate + tail,
    st.text(max_size=3), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.one_of(st.text(max_size=3), st.integers(60, 300).map(lambda n: "k" * n)))
#: Not a name: not a str, one longer than an AMQP short string (255 UTF-8 bytes), or text
#: with a lone surrogate (short names included: no fast path may skip the check).
_bad_names = st.one_of(
    _not_str,
    st.integers(256, 400).map(lambda n: "k" * n),
    st.integers(128, 200).map(lambda n: "é" * n),
    _surrogates,
)
_not_bytes = st.one_of(st.none(), st.integers(), st.text(max_size=4), st.just(object()),
                       st.lists(st.integers(0, 255), max_size=2))
_bad_tags = st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.none(),
                      st.floats(allow_nan=False), st.just(True))
#: Header values no AMQP field table can carry, at any depth.
_unencodable = st.one_of(st.just(object()), st.sets(st.integers(), min_size=1, max_size=2),
                         st.just(complex(1, 2)), st.integers(min_value=2**64))
def _nested(depth: int, list_every: int) -> dict[str, Any]:
    """A table nesting ``depth`` tables (every ``list_every``-th level an array)."""
    inner: Any = 1
    for level in range(depth):
        inner = [inner] if list_every and level % list_every == 0 else {"n": inner}
    return {"deep": inner}


_bad_tables = st.one_of(
    st.dictionaries(st.sampled_from(["a", "x-b"]), _unencodable, min_size=1, max_size=2),
    st.dictionaries(_surrogates, st.integers(), min_size=1, max_size=1),  # key
    st.builds(lambda v: {"a": v}, _surrogates),  # value
    st.builds(lambda v: {"a": [{"b": v}]}, _surrogates),
    st.builds(_nested, st.sampled_from([101, 1_000, 5_000]), st.integers(0, 3)),
    st.builds(lambda v: {"nested": {"deep": v}}, _unencodable),
    st.builds(lambda v: {"list": [1, v]}, _unencodable),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=1),  # non-str keys
)


def _bad_batches(queue: str) -> st.SearchStrategy[Any]:
    """A ``publish_batch`` argument with one bad publication among good ones (or no list)."""
    good = st.just(Publication("", queue, b"batched"))
    bad = st.one_of(
        st.builds(lambda v: Publication(v, queue, b"x"), _bad_names),
        st.builds(lambda v: Publication("", v, b"x"), _bad_names),
        st.builds(lambda v: Publication("", queue, v), _not_bytes),
        st.builds(lambda t: Publication("", queue, b"x", Properties(headers=t)), _bad_tables),
        st.tuples(st.just(""), st.just(queue), st.just(b"x")),
        st.none(),
    )
    in_a_list = st.tuples(st.lists(good, max_size=3), bad, st.lists(good, max_size=3)).map(
        lambda parts: [*parts[0], parts[1], *parts[2]])
    return st.one_of(in_a_list, st.sampled_from([None, 5, b"bytes", "text", {"a": 1}]))


# -- bad input to the application layer ---------------------------------------------------

_not_a_list = st.one_of(st.integers(), st.floats(allow_nan=False), st.just(object()),
                        st.text(max_size=4), st.binary(max_size=3),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


def bad_eqks(exchange: type[Any]) -> st.SearchStrategy[Any]:
    """An ``eqk`` that is not a list of (Exchange subclass, [(queue, key), ...]) pairs:
    ``exchange`` is a good Exchange subclass to build the almost-right forms with."""
    pair = st.sampled_from([("q", "k"), ({"name": "q", "flags": {}}, "k")])
    return st.one_of(
        _not_a_list,
        st.builds(lambda qk: (exchange, [qk]), pair),  # one pair, not in a list
        st.builds(lambda qk: [(exchange, qk)], pair),  # one (queue, key), not in a list
        st.builds(lambda k: [(exchange, [("q", k)])], _not_str),
        st.builds(lambda q: [(exchange, [(q, "k")])],
                  st.one_of(st.integers(), st.none(), st.just({"flags": {}}))),
        st.builds(lambda x: [(x, [("q", "k")])], _not_str),
        st.sampled_from([[(exchange, [("q", "k", "z")])], [(exchange, "q")], [(exchange,)],
                         [exchange], [(exchange, [("q",)])]]),
        st.builds(lambda v: [(exchange, v)], _not_a_list.filter(lambda v: not isinstance(v, str))),
    )


def bad_ekses(exchange: type[Any]) -> st.SearchStrategy[Any]:
    """An ``_eks`` that is not a list of (Exchange subclass, routing key) pairs."""
    return st.one_of(
        _not_a_list,
        st.just((exchange, "k")),  # one pair, not in a list
        st.builds(lambda k: [(exchange, k)], _not_str),
        st.builds(lambda x: [(x, "k")], _not_str),
        st.sampled_from([[], [exchange], [(exchange,)], [(exchange, "k", "z")], ["k"]]),
    )


def bad_calls(queue: str, exchange: str) -> st.SearchStrategy[tuple[str, tuple[Any, ...],
                                                                      dict[str, Any]]]:
    """A Transport method name and arguments, one of which is of the wrong type or value
    (``queue`` and ``exchange`` name entities that exist)."""
    return st.one_of(
        st.tuples(st.just("declare_queue"), st.tuples(_bad_names), st.just({})),
        st.tuples(st.just("declare_queue"), st.just((queue,)),
                  st.builds(lambda t: {"arguments": t}, _bad_tables)),
        st.tuples(st.just("declare_exchange"), st.tuples(_bad_names), st.just({})),
        st.tuples(st.just("declare_exchange"), st.tuples(st.just(exchange), _bad_names),
                  st.just({})),
        st.tuples(st.just("bind_queue"), st.tuples(st.just(queue), st.just(exchange), _bad_names),
                  st.just({})),
        st.tuples(st.just("bind_queue"), st.tuples(_bad_names, st.just(exchange)), st.just({})),
        st.tuples(st.just("bind_queue"), st.just((queue, exchange, "k")),
                  st.builds(lambda t: {"arguments": t}, _bad_tables)),
        st.tuples(st.just("publish"), st.tuples(_bad_names, st.just(queue), st.just(b"x")),
                  st.just({})),
        st.tuples(st.just("publish"), st.tuples(st.just(""), _bad_names, st.just(b"x")),
                  st.just({})),
        st.tuples(st.just("publish"), st.tuples(st.just(""), st.just(queue), _not_bytes),
                  st.just({})),
        st.tuples(st.just("publish_headers"), st.tuples(_bad_tables), st.just({})),
        st.tuples(st.just("publish"), st.tuples(st.just(""), st.just(queue), st.just(b"x"),
                                                _not_str.filter(lambda v: v is not None)),
                  st.just({})),
        st.tuples(st.just("publish_batch"), st.tuples(_bad_batches(queue)), st.just({})),
        st.tuples(st.just("get"), st.tuples(_bad_names), st.just({})),
        st.tuples(st.just("ack"), st.tuples(_bad_tags), st.just({})),
        st.tuples(st.just("nack"), st.tuples(_bad_tags), st.just({})),
        st.tuples(st.just("reject"), st.tuples(_bad_tags), st.just({})),
        st.tuples(st.just("consume"), st.tuples(st.just(queue), st.just(None)), st.just({})),
        st.tuples(st.just("consume"), st.tuples(_bad_names, st.just(print)), st.just({})),
        st.tuples(st.just("consume"), st.just((queue, print)),
                  st.builds(lambda t: {"consumer_tag": t}, _bad_names.filter(
                      lambda v: v is not None))),
        st.tuples(st.just("consume"), st.just((queue, print)),
                  st.builds(lambda t: {"arguments": t}, _bad_tables)),
        st.tuples(st.just("consume"), st.just((queue, print)),
                  st.builds(lambda n: {"prefetch": n},
                            st.one_of(st.integers(max_value=-1), st.integers(min_value=65536),
                                      st.text(max_size=2)))),
        st.tuples(st.just("purge_queue"), st.tuples(_bad_names), st.just({})),
        st.tuples(st.just("delete_queue"), st.tuples(_bad_names), st.just({})),
    )
