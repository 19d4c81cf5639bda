"""Routing for the in-memory broker: which destinations a message reaches, as RabbitMQ 3.10 does it.

Sans-IO and standard library only. One :class:`Router` per exchange holds that exchange's
bindings and answers :meth:`Router.route`. Destinations are opaque hashable values chosen by
the broker core (e.g. ``("queue", "q1")``).

Behaviour checked against a RabbitMQ 3.10.8 node:

- A binding is ``(routing_key, arguments, destination)``. Arguments compare as RabbitMQ
  compares field tables: top-level keys in any order, but with exact AMQP types (``1`` and
  ``1.0``, ``"x"`` and ``b"x"``, a 32-bit and a 64-bit integer, ``{}`` and ``[]`` all differ)
  and nested tables in order. Bindings that differ only in arguments are distinct for every
  exchange type; routing reaches each destination once.
- topic: a key is split on ``.``; ``""`` is zero words, ``"."`` is two empty words. ``*`` is
  exactly one word, ``#`` zero or more. ``*`` and ``#`` in a routing key are plain words.
- headers: ``x-match`` ``all`` (the default), ``any``, ``all-with-x``, ``any-with-x``. With
  ``all``/``any`` binding keys starting with ``x-`` are ignored; with the ``-with-x`` kinds
  only ``x-match`` itself is. A void (``None``) binding value matches any value of a header
  that is present. Top-level values compare by Erlang ``==``: numbers by value (``1`` equals
  ``1.0`` and a timestamp with the same seconds), ``str`` equals ``bytes``, ``{}`` equals ``[]``,
  ``True`` differs from ``1``; inside tables and arrays types and table order matter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from msgbus.errors import PreconditionFailed
from transports.memory.erlang_terms import (
    ETuple,
    Term,
    erlang_format,
    erlang_repr,
    field_value,
    reply_text,
    table_terms,
)

__all__ = [
    "MATCH_KINDS",
    "DirectRouter",
    "FanoutRouter",
    "HeadersRouter",
    "Router",
    "TopicRouter",
    "arguments_key",
    "explain_headers",
    "explain_topic",
    "headers_match",
    "router_for",
    "split_topic",
    "topic_matches",
    "validate_binding_arguments",
]

D = TypeVar("D", bound=Hashable)


def arguments_key(arguments: Mapping[str, Any] | None) -> tuple[ETuple, ...]:
    """Binding arguments as RabbitMQ compares them: top level sorted by key, exact types."""
    return tuple(sorted(table_terms(arguments or {}), key=lambda entry: entry.items[0]))


# -- routers -------------------------------------------------------------------------------

Binding = tuple[str, Mapping[str, Any], D]


class Router(ABC, Generic[D]):
    """The bindings of one exchange, and where a message published to it goes."""

    def __init__(self) -> None:
        self._bindings: dict[tuple[str, tuple[ETuple, ...], D], Binding[D]] = {}
        self._by_destination: dict[D, dict[tuple[str, tuple[ETuple, ...], D], None]] = {}

    def bind(self, routing_key: str, arguments: Mapping[str, Any] | None, destination: D) -> bool:
        """Add a binding; ``False`` if an identical one exists already (nothing changes)."""
        args_key = arguments_key(arguments)
        identity = (routing_key, args_key, destination)
        if identity in self._bindings:
            return False
        self._add(routing_key, args_key, arguments or {}, destination)
        self._bindings[identity] = (routing_key, dict(arguments or {}), destination)
        self._by_destination.setdefault(destination, {})[identity] = None
        return True

    def unbind(self, routing_key: str, arguments: Mapping[str, Any] | None, destination: D) -> bool:
        """Remove a binding; ``False`` if there was no such binding."""
        identity = (routing_key, arguments_key(arguments), destination)
        if identity not in self._bindings:
            return False
        self._forget(identity)
        return True

    def has_binding(self, routing_key: str, arguments: Mapping[str, Any] | None,
                    destination: D) -> bool:
        """Whether exactly this binding exists."""
        return (routing_key, arguments_key(arguments), destination) in self._bindings

    def unbind_destination(self, destination: D) -> int:
        """Remove every binding to ``destination``; how many there were."""
        identities = list(self._by_destination.get(destination, ()))
        for identity in identities:
            self._forget(identity)
        return len(identities)

    def _forget(self, identity: tuple[str, tuple[ETuple, ...], D]) -> None:
        routing_key, args_key, destination = identity
        del self._bindings[identity]
        by_destination = self._by_destination[destination]
        del by_destination[identity]
        if not by_destination:
            del self._by_destination[destination]
        self._remove(routing_key, args_key, destination)

    def bindings(self) -> list[Binding[D]]:
        """Every binding as ``(routing_key, arguments, destination)``, oldest first."""
        return list(self._bindings.values())

    def destinations(self) -> set[D]:
        """Every destination with at least one binding."""
        return set(self._by_destination)

    def __len__(self) -> int:
        return len(self._bindings)

    @abstractmethod
    def route(self, routing_key: str, headers: Mapping[str, Any] | None) -> set[D]:
        """The destinations a message with this routing key and these headers reaches."""

    @abstractmethod
    def _add(self, routing_key: str, args_key: tuple[ETuple, ...],
             arguments: Mapping[str, Any], destination: D) -> None: ...

    @abstractmethod
    def _remove(self, routing_key: str, args_key: tuple[ETuple, ...], destination: D) -> None: ...


def _incr(counts: dict[D, int], destination: D) -> None:
    counts[destination] = counts.get(destination, 0) + 1


def _decr(counts: dict[D, int], destination: D) -> bool:
    """Decrement; True when the destination's count reached zero (and was removed)."""
    left = counts[destination] - 1
    if left:
        counts[destination] = left
        return False
    del counts[destination]
    return True


class DirectRouter(Router[D]):
    """direct: the routing key equals the binding key."""

    def __init__(self) -> None:
        super().__init__()
        self._by_key: dict[str, dict[D, int]] = {}

    def _add(self, routing_key: str, args_key: tuple[ETuple, ...],
             arguments: Mapping[str, Any], destination: D) -> None:
        _incr(self._by_key.setdefault(routing_key, {}), destination)

    def _remove(self, routing_key: str, args_key: tuple[ETuple, ...], destination: D) -> None:
        counts = self._by_key[routing_key]
        if _decr(counts, destination) and not counts:
            del self._by_key[routing_key]

    def route(self, routing_key: str, headers: Mapping[str, Any] | None = None) -> set[D]:
        return set(self._by_key.get(routing_key, ()))


class FanoutRouter(Router[D]):
    """fanout: every bound destination, whatever the routing key."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[D, int] = {}

    def _add(self, routing_key: str, args_key: tuple[ETuple, ...],
             arguments: Mapping[str, Any], destination: D) -> None:
        _incr(self._counts, destination)

    def _remove(self, routing_key: str, args_key: tuple[ETuple, ...], destination: D) -> None:
        _decr(self._counts, destination)

    def route(self, routing_key: str, headers: Mapping[str, Any] | None = None) -> set[D]:
        return set(self._counts)


# -- topic ---------------------------------------------------------------------------------


def split_topic(key: str) -> list[str]:
    """The words of a routing or binding key: ``""`` has none, ``"a..b"`` has three."""
    return key.split(".") if key else []


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Reference matcher: does binding key ``pattern`` match ``routing_key``?"""
    return _topic_table(split_topic(pattern), split_topic(routing_key))[0][0]


def _topic_table(pattern: list[str], words: list[str]) -> list[list[bool]]:
    """``table[i][j]``: do pattern words ``i:`` match key words ``j:``?"""
    n, m = len(pattern), len(words)
    table = [[False] * (m + 1) for _ in range(n + 1)]
    table[n][m] = True
    for i in range(n - 1, -1, -1):
        word = pattern[i]
        for j in range(m, -1, -1):
            if word == "#":
                table[i][j] = table[i + 1][j] or (j < m and table[i][j + 1])
            else:
                table[i][j] = j < m and word in ("*", words[j]) and table[i + 1][j + 1]
    return table


class _Node(Generic[D]):
    __slots__ = ("children", "counts", "is_hash")

    def __init__(self, is_hash: bool) -> None:
        self.children: dict[str, _Node[D]] = {}
        self.counts: dict[D, int] = {}
        self.is_hash = is_hash


class TopicRouter(Router[D]):
    """topic: a trie of binding words, walked once per message (cost independent of size)."""

    def __init__(self) -> None:
        super().__init__()
        self._root: _Node[D] = _Node(False)

    def _add(self, routing_key: str, args_key: tuple[ETuple, ...],
             arguments: Mapping[str, Any], destination: D) -> None:
        node = self._root
        for word in split_topic(routing_key):
            child = node.children.get(word)
            if child is None:
                child = node.children[word] = _Node(word == "#")
            node = child
        _incr(node.counts, destination)

    def _remove(self, routing_key: str, args_key: tuple[ETuple, ...], destination: D) -> None:
        path = [(self._root, "")]
        for word in split_topic(routing_key):
            path.append((path[-1][0].children[word], word))
        _decr(path[-1][0].counts, destination)
        for (parent, _), (node, word) in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
            if node.counts or node.children:
                break
            del parent.children[word]

    def route(self, routing_key: str, headers: Mapping[str, Any] | None = None) -> set[D]:
        words = split_topic(routing_key)
        end = len(words)
        found: set[D] = set()
        seen: set[tuple[_Node[D], int]] = set()
        todo: list[tuple[_Node[D], int]] = [(self._root, 0)]
        while todo:
            state = todo.pop()
            if state in seen:
                continue
            seen.add(state)
            node, i = state
            if node.is_hash and i < end:  # '#' swallows one more word
                todo.append((node, i + 1))
            hash_child = node.children.get("#")
            if hash_child is not None:  # '#' swallowing no word (yet)
                todo.append((hash_child, i))
            if i == end:
                found.update(node.counts)
                continue
            for word in (words[i], "*"):
                child = node.children.get(word)
                if child is not None:
                    todo.append((child, i + 1))
        return found


# -- headers -------------------------------------------------------------------------------

MATCH_KINDS = ("all", "any", "all-with-x", "any-with-x")


@dataclass(frozen=True, slots=True)
class _Pattern:
    kind: str
    fields: tuple[tuple[str, str, Term], ...]  # (key, type, term); x- keys already dropped


def _compile(arguments: Mapping[str, Any] | None) -> _Pattern:
    arguments = arguments or {}
    kind = "all"
    if "x-match" in arguments:
        value = arguments["x-match"]
        # RabbitMQ treats anything else as "all" (bind refuses it; see validate_...).
        if isinstance(value, str) and value in MATCH_KINDS:
            kind = value
    with_x = kind.endswith("-with-x")
    fields = tuple(
        (key, *field_value(value))
        for key, value in arguments.items()
        if key != "x-match" and (with_x or not key.startswith("x-"))
    )
    return _Pattern(kind, fields)


def _header_terms(headers: Mapping[str, Any] | None) -> dict[str, Term]:
    return {str(key): field_value(value)[1] for key, value in (headers or {}).items()}


def _field_matches(kind: str, term: Term, key: str, data: Mapping[str, Term]) -> bool:
    return key in data and (kind == "void" or data[key] == term)


def _pattern_matches(pattern: _Pattern, data: Mapping[str, Term]) -> bool:
    results = (_field_matches(kind, term, key, data) for key, kind, term in pattern.fields)
    return any(results) if pattern.kind.startswith("any") else all(results)


def headers_match(binding_arguments: Mapping[str, Any] | None,
                  headers: Mapping[str, Any] | None) -> bool:
    """Does a headers-exchange binding with these arguments match a message's headers?"""
    return _pattern_matches(_compile(binding_arguments), _header_terms(headers))


class HeadersRouter(Router[D]):
    """headers: x-match all / any / all-with-x / any-with-x over the message headers."""

    def __init__(self) -> None:
        super().__init__()
        self._patterns: dict[tuple[ETuple, ...], tuple[_Pattern, dict[D, int]]] = {}

    def _add(self, routing_key: str, args_key: tuple[ETuple, ...],
             arguments: Mapping[str, Any], destination: D) -> None:
        entry = self._patterns.get(args_key)
        if entry is None:
            entry = self._patterns[args_key] = (_compile(arguments), {})
        _incr(entry[1], destination)

    def _remove(self, routing_key: str, args_key: tuple[ETuple, ...], destination: D) -> None:
        counts = self._patterns[args_key][1]
        if _decr(counts, destination) and not counts:
            del self._patterns[args_key]

    def route(self, routing_key: str, headers: Mapping[str, Any] | None) -> set[D]:
        data = _header_terms(headers)
        found: set[D] = set()
        for pattern, counts in self._patterns.values():
            if _pattern_matches(pattern, data):
                found.update(counts)
        return found


_ROUTERS: dict[str, type[Router[Any]]] = {
    "direct": DirectRouter,
    "fanout": FanoutRouter,
    "topic": TopicRouter,
    "headers": HeadersRouter,
}


def router_for(exchange_type: str) -> Router[Any]:
    """A new, empty router for an exchange of this type."""
    try:
        cls = _ROUTERS[str(exchange_type)]
    except KeyError:
        raise ValueError(
            f"unknown exchange type {exchange_type!r}: expected one of {', '.join(_ROUTERS)}"
        ) from None
    return cls()


# -- binding validation --------------------------------------------------------------------


def validate_binding_arguments(exchange_type: str, arguments: Mapping[str, Any] | None) -> None:
    """Refuse a binding as RabbitMQ's ``queue.bind``/``exchange.bind`` does (406).

    Only headers exchanges check anything: ``x-match`` must be one of :data:`MATCH_KINDS`,
    sent as a string. The reply text is RabbitMQ's: the value printed as Erlang prints it
    (line breaks included), cut to 255 bytes.
    """
    if str(exchange_type) != "headers" or not arguments or "x-match" not in arguments:
        return
    kind, term = field_value(arguments["x-match"])
    if kind == "longstr":
        if term in _MATCH_KIND_BYTES:
            return
        head = "Invalid x-match field value "
        tail = "; expected all, any, all-with-x, or any-with-x"
    else:
        head, tail = f"Invalid x-match field type {kind} (value ", "); expected longstr"
    text = head + erlang_format(term, len(head) + 1) + tail
    raise PreconditionFailed(reply_text(PreconditionFailed.name, text))


_MATCH_KIND_BYTES = {kind.encode() for kind in MATCH_KINDS}


# -- explanations (for ``msgbus explain``) -------------------------------------------------


def explain_topic(pattern: str, routing_key: str) -> list[str]:
    """Word by word, why binding key ``pattern`` matches ``routing_key`` or not."""
    pwords, words = split_topic(pattern), split_topic(routing_key)
    table = _topic_table(pwords, words)
    lines = [f"pattern {pattern!r} has {len(pwords)} word(s) {pwords}; "
             f"key {routing_key!r} has {len(words)} word(s) {words}"]
    i = j = 0
    while i < len(pwords):
        word = pwords[i]
        if word == "#":
            take = 0
            while not table[i + 1][j + take] and j + take < len(words) and table[i][j + take + 1]:
                take += 1
            if not table[i][j]:
                lines.append(f"'#' may take any of the {len(words) - j} word(s) left, but the "
                             f"rest of the pattern {pwords[i + 1:]} then matches no tail of "
                             f"{words[j:]}")
                return [*lines, "=> no match"]
            lines.append(f"'#' takes {take} word(s) {words[j:j + take]}")
            i, j = i + 1, j + take
        elif j == len(words):
            lines.append(f"{word!r} needs a word, but the key has no more words")
            return [*lines, "=> no match"]
        elif word == "*":
            lines.append(f"'*' takes exactly one word: {words[j]!r}")
            i, j = i + 1, j + 1
        elif word == words[j]:
            lines.append(f"{word!r} equals {words[j]!r}")
            i, j = i + 1, j + 1
        else:
            lines.append(f"{word!r} differs from {words[j]!r}")
            return [*lines, "=> no match"]
    if j < len(words):
        lines.append(f"the pattern ends but the key has {len(words) - j} more word(s) "
                     f"{words[j:]}")
        return [*lines, "=> no match"]
    return [*lines, "=> match"]


def explain_headers(binding_arguments: Mapping[str, Any] | None,
                    headers: Mapping[str, Any] | None) -> list[str]:
    """Key by key, why a headers binding matches a message's headers or not."""
    pattern = _compile(binding_arguments)
    data = _header_terms(headers)
    need = "at least one" if pattern.kind.startswith("any") else "every"
    lines = [f"x-match {pattern.kind}: {need} binding header must match"]
    compared = {key for key, _, _ in pattern.fields}
    lines += [f"{key!r}: ignored with x-match {pattern.kind}"
              for key in binding_arguments or {} if key != "x-match" and key not in compared]
    for key, kind, term in pattern.fields:
        if key not in data:
            lines.append(f"{key!r}: missing from the message -> no")
        elif kind == "void":
            lines.append(f"{key!r}: present, and a void binding value only asks for presence "
                         "-> yes")
        else:
            ok = data[key] == term
            lines.append(f"{key!r}: binding {erlang_repr(term)} ({kind}) "
                         f"{'==' if ok else '/='} message {erlang_repr(data[key])} "
                         f"({field_value((headers or {})[key])[0]}) -> {'yes' if ok else 'no'}")
    if not pattern.fields:
        lines.append("no headers to compare: x-match all matches every message, "
                     "any matches none")
    return [*lines, "=> match" if _pattern_matches(pattern, data) else "=> no match"]
