"""AMQP field values as RabbitMQ holds them (Erlang terms), compared and printed as Erlang does.

RabbitMQ compares binding arguments and headers as Erlang terms, and prints values in its
reply texts with Erlang's ``~p``. This module models just enough of both:

- :func:`field_value` turns a Python value into the ``(type, term)`` pair RabbitMQ decodes
  from it as pika encodes it. Binaries become ``bytes``, numbers ``int``/``float``, lists
  ``tuple``, tuples :class:`ETuple`, atoms :class:`Atom`; Python ``==`` on these terms
  behaves as Erlang ``==`` on the originals.
- :func:`erlang_format` prints a term as ``io_lib:format("~p")`` does at a given column,
  with its line breaks (line length 80); :func:`erlang_repr` prints it on one line.

Texts are built as Latin-1 strings (one character per byte, as Erlang builds them) and
turned into ``str`` by :func:`reply_text`.
"""

from __future__ import annotations

import calendar
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from msgbus.errors import ValidationError
from transports.memory.fields import Long

__all__ = [
    "Atom",
    "Charlist",
    "ETuple",
    "erlang_format",
    "erlang_repr",
    "field_value",
    "reply_text",
    "table_terms",
]


@dataclass(frozen=True, slots=True)
class Atom:
    name: str


@dataclass(frozen=True, slots=True)
class ETuple:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Charlist:
    """An Erlang string (a list of character codes), e.g. what ``rabbit_misc:format``
    returns; ``chars`` holds one byte per character, as Erlang builds reply texts."""

    chars: bytes


Term = Any
_TRUE, _FALSE, _UNDEFINED = Atom("true"), Atom("false"), Atom("undefined")
_INT32 = (-(2**31), 2**31)
_INT64 = (-(2**63), 2**63)


def field_value(value: Any) -> tuple[str, Term]:
    """The ``(type, term)`` RabbitMQ decodes from ``value`` as pika encodes it (or as it
    came, for a value whose type says its AMQP field type: ``fields.Byte``, ...)."""
    typed = getattr(type(value), "amqp_field", None)
    if typed is not None and typed != "long":
        return typed, float(value) if isinstance(value, float) else int(value)
    if isinstance(value, str):
        return "longstr", value.encode()
    if isinstance(value, (bytes, bytearray)):
        return "binary", bytes(value)
    if isinstance(value, bool):
        return "bool", _TRUE if value else _FALSE
    if isinstance(value, int):
        # pika sends its ``pika.compat.long`` subclass as a 64-bit integer whatever its size
        # (and so do brokers their own longs, ``fields.Long``).
        is_long = isinstance(value, Long) or type(value).__module__ == "pika.compat"
        if not is_long and _INT32[0] <= value < _INT32[1]:
            return "signedint", int(value)
        if _INT64[0] <= value < _INT64[1]:
            return "long", int(value)
        raise ValidationError(f"integer field value {value!r} does not fit in 64 bits")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"float field value {value!r} is not finite")
        return "double", value
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValidationError(f"decimal field value {value!r} is not finite")
        exponent = value.normalize().as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        unscaled = int(value.scaleb(scale))
        if scale > 255 or not _INT32[0] <= unscaled < _INT32[1]:
            raise ValidationError(f"decimal field value {value!r} does not fit an AMQP decimal")
        # RabbitMQ reads the unscaled value as an unsigned 32-bit integer
        return "decimal", ETuple((scale, unscaled % 2**32))
    if isinstance(value, datetime):
        return "timestamp", calendar.timegm(value.utctimetuple())
    if isinstance(value, Mapping):
        return "table", table_terms(value)
    if isinstance(value, (list, tuple)):
        return "array", tuple(ETuple(field_value(item)) for item in value)
    if value is None:
        return "void", _UNDEFINED
    raise ValidationError(
        f"field value {value!r} of type {type(value).__name__} cannot be sent in an AMQP table"
    )


def table_terms(table: Mapping[str, Any]) -> tuple[ETuple, ...]:
    """A field table as RabbitMQ holds it: ``{Key, Type, Value}`` entries in the given order."""
    return tuple(
        ETuple((str(key).encode(), Atom(kind), term))
        for key, (kind, term) in ((k, field_value(v)) for k, v in table.items())
    )



# -- printing ------------------------------------------------------------------------------

_LINE = 80
_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 11: "\\v", 8: "\\b",
            12: "\\f", 27: "\\e", ord('"'): '\\"', ord("\\"): "\\\\"}


def _printable(byte: int) -> bool:
    return 32 <= byte <= 126 or 160 <= byte <= 255 or byte in _ESCAPES


def _erlang_float(value: float) -> str:
    """Erlang's shortest float format: fixed unless scientific is strictly shorter."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    exponent = int(digits_tuple.exponent)  # an int: the value is finite
    place = len(digits) + exponent  # value == 0.<digits> * 10**place
    scientific = f"{digits[0]}.{digits[1:] or '0'}e{place - 1}"
    if abs(value) >= 2.0**53:
        return sign + scientific
    if place <= 0:
        fixed = "0." + "0" * -place + digits
    elif place < len(digits):
        fixed = f"{digits[:place]}.{digits[place:]}"
    else:
        fixed = digits + "0" * (place - len(digits)) + ".0"
    if 0 < place <= len(digits) or len(fixed) <= len(scientific):
        return sign + fixed
    return sign + scientific


@dataclass(frozen=True, slots=True)
class _Doc:
    """A term laid out for printing: ``kind`` is leaf, bin, list, tuple or tagged."""

    kind: str
    text: str  # the whole term on one line
    items: tuple[_Doc, ...] = ()

    @property
    def size(self) -> int:
        return len(self.text)


def _doc(term: Term) -> _Doc:
    if isinstance(term, Charlist):
        if not term.chars:
            return _Doc("leaf", "[]")
        if all(_printable(b) for b in term.chars):
            return _Doc("leaf", '"' + "".join(_ESCAPES.get(b, chr(b)) for b in term.chars) + '"')
        return _doc(tuple(term.chars))
    if isinstance(term, bytes):
        if not term:
            return _Doc("leaf", "<<>>")
        if all(_printable(b) for b in term):
            return _Doc("leaf", '<<"' + "".join(_ESCAPES.get(b, chr(b)) for b in term) + '">>')
        return _Doc("bin", "<<" + ",".join(str(b) for b in term) + ">>")
    if isinstance(term, Atom):
        return _Doc("leaf", term.name)
    if isinstance(term, float):
        return _Doc("leaf", _erlang_float(term))
    if isinstance(term, (ETuple, tuple)):
        elements = term.items if isinstance(term, ETuple) else term
        if not elements:
            return _Doc("leaf", "{}" if isinstance(term, ETuple) else "[]")
        items = tuple(_doc(e) for e in elements)
        kind, (left, right) = (("list", "[]") if isinstance(term, tuple) else
                               ("tagged" if isinstance(elements[0], Atom) and len(items) > 1
                                else "tuple", "{}"))
        return _Doc(kind, left + ",".join(i.text for i in items) + right, items)
    return _Doc("leaf", str(term))


class _NoGood(Exception):
    pass


class _Printer:
    """Erlang's pretty printer for the terms above (no maps, records, depth limits)."""

    def __init__(self, total: int, tag_indent: int, checking: bool, line: int) -> None:
        self.m, self.tind, self.checking, self.line = total, tag_indent, checking, line

    def fits(self, doc: _Doc, col: int, ld: int, w: int) -> bool:
        return doc.size < self.line - col - ld and doc.size + w + ld <= self.m

    def pp(self, doc: _Doc, col: int, ind: int, ld: int, w: int) -> str:
        if self.fits(doc, col, ld, w) or doc.kind == "leaf":
            return doc.text
        if doc.kind == "tagged":
            return "{" + self.tag_tuple(doc.items, col, ind, ld, w + 1) + "}"
        if doc.kind == "bin":
            return self.binary(doc, col + 2, ind + 2, ld, w)
        left, right = doc.text[0], doc.text[-1]
        return left + self.elements(doc.items, col + 1, ind + 1, ld, w + 1) + right

    def tag_tuple(self, items: tuple[_Doc, ...], col: int, ind: int, ld: int, w: int) -> str:
        tag, rest = items[0], items[1:]
        tag_ind = tag.size + 2
        if self.tind > 0 and tag_ind > self.tind:
            if self.checking and not (self.m + col + self.tind <= self.line
                                      or col + self.tind <= self.line // 2):
                raise _NoGood
            return tag.text + self.tail(rest, col + self.tind, col + tag_ind, ind + self.tind,
                                        ld, w + tag.size)
        if self.checking and not (self.m + col + tag_ind < self.line
                                  or col + tag_ind < self.line // 2):
            raise _NoGood
        return tag.text + "," + self.elements(rest, col + tag_ind, ind + tag_ind, ld,
                                              w + tag.size + 1)

    def elements(self, items: tuple[_Doc, ...], col0: int, ind: int, ld: int, w: int) -> str:
        text, width = self.element(items[0], col0, ind, ld + 1 if len(items) == 1 else 0, w)
        return text + self.tail(items[1:], col0, col0 + width, ind, ld, w + width)

    def tail(self, items: tuple[_Doc, ...], col0: int, col: int, ind: int, ld: int,
             w: int) -> str:
        out = []
        for index, doc in enumerate(items):
            ld1 = ld + 1 if index == len(items) - 1 else 0
            elen = 1 + doc.size
            room = (elen + 1 < self.line - col and w + elen + 1 <= self.m if ld1 == 0 else
                    elen < self.line - col - ld1 and w + elen + ld1 <= self.m)
            if doc.kind == "leaf" and room:
                out.append("," + doc.text)
                col, w = col + elen, w + elen
            else:
                text, width = self.element(doc, col0, ind, ld1, 0)
                out.append(",\n" + " " * ind + text)
                col, w = col0 + width, width
        return "".join(out)

    def element(self, doc: _Doc, col: int, ind: int, ld: int, w: int) -> tuple[str, int]:
        if doc.kind == "leaf" and self.fits(doc, col, ld, w):
            return doc.text, doc.size
        return self.pp(doc, col, ind, ld, w), self.line  # what follows starts a new line

    def binary(self, doc: _Doc, col: int, ind: int, ld: int, w: int) -> str:
        first = budget = max(8, min(self.line - col, self.m - 4 - w) - ld)
        *chunks, last = doc.text[2:-2].split(",")
        out = []
        for chunk in chunks:
            size = len(chunk) + 1
            if budget - size < 0:
                out.append("\n" + " " * ind + chunk + ",")
                budget = first - size
            else:
                out.append(chunk + ",")
                budget -= size
        out.append(("\n" + " " * ind + last) if len(last) > budget else last)
        return "<<" + "".join(out) + ">>"


def erlang_format(term: Term, column: int, line: int = _LINE) -> str:
    """``term`` as ``io_lib:format("~p")`` prints it starting at ``column`` (1-based);
    ``line`` is the line length (``~255p`` prints with 255)."""
    doc = _doc(term)
    if doc.size < line - column or doc.kind == "leaf":
        return doc.text
    tag_indent = 1
    for trial in (-1, 4):
        try:
            _Printer(doc.size, trial, True, line).pp(doc, column, column - 1, 0, 0)
        except _NoGood:
            continue
        tag_indent = trial
        break
    return _Printer(doc.size, tag_indent, False, line).pp(doc, column, column - 1, 0, 0)


def erlang_repr(term: Term) -> str:
    """``term`` as Erlang prints it on one line, binaries read as UTF-8 where they are."""
    return _doc(term).text.encode("latin-1").decode(errors="replace")


def reply_text(name: str, text: str) -> str:
    """``NAME - text`` (``text`` in Latin-1 characters, one per byte, as Erlang builds it),
    cut to 255 bytes as RabbitMQ cuts it (252 and ``...``), read as UTF-8; bytes that are
    not UTF-8 (pika hands those texts over as bytes) become U+FFFD."""
    raw = f"{name} - {text}".encode("latin-1")
    if len(raw) > 255:
        raw = raw[:252] + b"..."
    return raw.decode(errors="replace")
