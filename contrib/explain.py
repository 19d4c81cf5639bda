"""Why a message goes where it goes: an exchange's bindings checked one by one.

::

    >>> from contrib.explain import explain
    >>> print(explain("topic", ["a.*", "a.#"], routing_key="a.b.c").text())
    topic exchange, routing key 'a.b.c'
    ...

Each binding is explained the way the exchange type decides: ``direct`` compares the whole
key, ``fanout`` ignores it, ``topic`` goes word by word (:func:`routing.explain_topic`),
``headers`` key by key (:func:`routing.explain_headers`). Whether a binding matches is
decided by the broker's own router, so the explanation never disagrees with the routing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from transports.memory.routing import explain_headers, explain_topic, router_for

__all__ = ["BindingExplanation", "Explanation", "explain", "parse_table"]

EXCHANGE_TYPES = ("direct", "fanout", "topic", "headers")


@dataclass(frozen=True, slots=True)
class BindingExplanation:
    """One binding: its key or arguments, whether it matches, and the steps of the decision."""

    number: int
    routing_key: str
    arguments: Mapping[str, Any]
    matches: bool
    steps: tuple[str, ...]

    @property
    def label(self) -> str:
        if self.arguments:
            return "{" + ", ".join(f"{k}={v!r}" for k, v in self.arguments.items()) + "}"
        return repr(self.routing_key)


@dataclass(frozen=True, slots=True)
class Explanation:
    exchange_type: str
    routing_key: str
    headers: Mapping[str, Any] | None
    bindings: tuple[BindingExplanation, ...] = field(default=())

    @property
    def matched(self) -> tuple[BindingExplanation, ...]:
        return tuple(b for b in self.bindings if b.matches)

    def text(self) -> str:
        """The whole explanation, one binding after the other, then the verdict."""
        head = f"{self.exchange_type} exchange, routing key {self.routing_key!r}"
        if self.exchange_type == "headers":
            head += f", headers {dict(self.headers or {})!r}"
        lines = [head]
        for b in self.bindings:
            verdict = "match" if b.matches else "no match"
            lines.append(f"binding {b.number} {b.label}: {verdict}")
            lines.extend(f"    {step}" for step in b.steps)
        if self.matched:
            lines.append("=> the message goes to the destinations of binding(s) "
                         + ", ".join(str(b.number) for b in self.matched))
        else:
            lines.append("=> no binding matches: the message is dropped "
                         "(or returned, if published as mandatory)")
        return "\n".join(lines)


def explain(exchange_type: str, bindings: Sequence[str | Mapping[str, Any]
                                                   | tuple[str, Mapping[str, Any]]],
            routing_key: str = "", headers: Mapping[str, Any] | None = None) -> Explanation:
    """Explain which of ``bindings`` a message with ``routing_key`` / ``headers`` matches.

    A binding is a binding key (``"a.*"``), a table of binding arguments (for headers
    exchanges) or a ``(key, arguments)`` pair.
    """
    if exchange_type not in EXCHANGE_TYPES:
        raise ValueError(f"unknown exchange type {exchange_type!r}: expected one of "
                         f"{', '.join(EXCHANGE_TYPES)}")
    results = []
    for number, binding in enumerate(bindings, start=1):
        key, arguments = _split(binding)
        router = router_for(exchange_type)
        router.bind(key, arguments, number)
        matches = bool(router.route(routing_key, headers))
        steps = _steps(exchange_type, key, arguments, routing_key, headers, matches)
        results.append(BindingExplanation(number, key, dict(arguments), matches, tuple(steps)))
    return Explanation(exchange_type, routing_key, headers, tuple(results))


def _split(binding: str | Mapping[str, Any] | tuple[str, Mapping[str, Any]]
           ) -> tuple[str, Mapping[str, Any]]:
    if isinstance(binding, str):
        return binding, {}
    if isinstance(binding, tuple):
        return binding
    return "", binding


def _steps(exchange_type: str, key: str, arguments: Mapping[str, Any], routing_key: str,
           headers: Mapping[str, Any] | None, matches: bool) -> list[str]:
    if exchange_type == "fanout":
        return ["a fanout exchange copies every message to every binding; keys are ignored"]
    if exchange_type == "direct":
        relation = "equals" if matches else "differs from"
        return [f"binding key {key!r} {relation} routing key {routing_key!r} "
                "(direct compares the whole key)"]
    if exchange_type == "topic":
        return explain_topic(key, routing_key)[:-1]  # the last line is the verdict
    return explain_headers(arguments, headers)[:-1]


def parse_table(text: str) -> dict[str, Any]:
    """``'x-match=any,format=pdf,size=3'`` (or a JSON object) as a table of arguments.

    A value is read as JSON when it is valid JSON (``3``, ``true``, ``null``, ``"3"``),
    otherwise it is the text itself: ``size=3`` is the integer 3, ``size="3"`` the string.
    """
    text = text.strip()
    if text.startswith("{"):
        table = json.loads(text)
        if not isinstance(table, dict):
            raise ValueError(f"expected a JSON object, got {text!r}")
        return table
    table = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        table[name.strip()] = _json_or_text(raw.strip())
    return table


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
