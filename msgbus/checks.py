"""Client-side checks of what a :class:`~msgbus.transport.Transport` is given, shared by
every transport, so that a wrong type or value fails the same way on each: with a
:class:`~msgbus.errors.ValidationError` (also a ``ValueError``) that names the parameter,
says what was expected and shows what was found, before anything reaches a broker."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from msgbus.errors import ValidationError
from msgbus.values import DeliveryMode, Properties, Publication

__all__ = [
    "MAX_TABLE_DEPTH",
    "SURELY_SHORT",
    "require_binding",
    "require_body",
    "require_callback",
    "require_consume",
    "require_delivery_tag",
    "require_instance",
    "require_prefetch",
    "require_properties",
    "require_publications",
    "require_str",
    "require_timeout",
    "wire_table",
]

_T = TypeVar("_T")
_INT64 = 2**63
_INT32 = 2**31


#: An ASCII str of at most this many characters fits an AMQP short string: callers may skip
#: :func:`require_str` for ``type(s) is str and len(s) <= SURELY_SHORT and s.isascii()``.
SURELY_SHORT = 63
#: How deep tables (headers, arguments) may nest: tables within tables or arrays.
MAX_TABLE_DEPTH = 100


def require_str(what: str, value: object) -> str:
    """A name the wire carries as an AMQP short string: a str of at most 255 UTF-8 bytes
    (pika cannot encode a longer one, so no broker ever sees it), and text UTF-8 can
    encode (no lone surrogates)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a str, got {type(value).__name__}: {value!r}")
    size = len(value) if value.isascii() else len(_utf8(what, value))
    if size > 255:
        raise ValidationError(
            f"{what} must be at most 255 bytes (an AMQP short string), got "
            f"{size} bytes: {_short(value)}")
    return value


def _utf8(what: str, value: str) -> bytes:
    """``value`` in UTF-8, or a ValidationError naming ``what`` (a lone surrogate)."""
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} must be text UTF-8 can encode, got the lone surrogate "
            f"{value[exc.start]!r} at index {exc.start}: {_short(value)}") from None


def require_binding(destination: object, source: object, routing_key: object) -> None:
    """The names of a queue.bind / exchange.bind (and their unbinds)."""
    require_str("binding destination", destination)
    require_str("binding source", source)
    require_str("routing key", routing_key)


def require_body(value: object) -> bytes:
    """The message body as ``bytes`` (``bytearray`` and ``memoryview`` are copied)."""
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValidationError(
        f"message body must be bytes, got {type(value).__name__}: {_short(value)}")


#: The properties the wire carries as AMQP short strings.
_SHORT_STRING_PROPERTIES = (
    "content_type", "content_encoding", "correlation_id", "reply_to", "expiration",
    "message_id", "type", "user_id", "app_id", "cluster_id",
)
_short_strings = operator.attrgetter(*_SHORT_STRING_PROPERTIES)
#: The integer properties and the ranges their AMQP types hold.
_INTEGER_PROPERTIES = (("delivery_mode", 255), ("priority", 255), ("timestamp", 2**64 - 1))
_integers = operator.attrgetter(*(name for name, _ in _INTEGER_PROPERTIES))
_MODE_TYPES = (int, DeliveryMode)
_UINT64 = 2**64
_FOREVER = float("inf")


def require_properties(value: object) -> Properties | None:
    """``msgbus.Properties`` (or ``None``) whose fields the wire can carry: short strings
    of at most 255 bytes, octets for ``delivery_mode`` and ``priority``, an unsigned 64-bit
    ``timestamp`` (the header table is checked by :func:`wire_table`)."""
    if value is None:
        return None
    if not isinstance(value, Properties):
        raise ValidationError(
            f"properties must be msgbus.Properties or None, got {type(value).__name__}")
    for field in _short_strings(value):
        if field is not None and (type(field) is not str or len(field) > SURELY_SHORT
                                  or not field.isascii()):
            _require_short_strings(value)
            break
    mode, priority, timestamp = _integers(value)
    if ((mode is not None and (type(mode) not in _MODE_TYPES or not 0 <= mode <= 255))
            or (priority is not None and (type(priority) is not int or not 0 <= priority <= 255))
            or (timestamp is not None and (type(timestamp) is not int
                                           or not 0 <= timestamp < _UINT64))):
        _require_integers(value)
    return value


def _require_short_strings(value: Properties) -> None:
    for name in _SHORT_STRING_PROPERTIES:
        field = getattr(value, name)
        if field is not None:
            require_str(f"properties.{name}", field)


def _require_integers(value: Properties) -> None:
    for name, top in _INTEGER_PROPERTIES:
        number = getattr(value, name)
        if number is not None and (
                not isinstance(number, int) or isinstance(number, bool)
                or not 0 <= number <= top):
            raise ValidationError(
                f"properties.{name} must be an int in 0..{top}, got "
                f"{type(number).__name__}: {_short(number)}")


def require_timeout(value: object) -> float | None:
    """A ``process_events`` timeout: ``None`` (wait as long as it takes) or a finite number
    of seconds, at least 0."""
    if value is None or (type(value) is float and 0.0 <= value < _FOREVER):  # the common case
        return value
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value < 0):
        raise ValidationError(
            f"timeout must be None or a finite number of seconds >= 0, got "
            f"{type(value).__name__}: {_short(value)}")
    return float(value)


def require_publications(value: object) -> list[Publication]:
    """The messages of a ``publish_batch``, each checked as ``publish`` checks its arguments
    (bodies as ``bytes``, headers as they arrive after encoding)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"publications must be an iterable of msgbus.Publication, got "
            f"{type(value).__name__}: {_short(value)}")
    checked = []
    for index, publication in enumerate(value):
        try:
            checked.append(_publication(publication))
        except ValidationError as exc:
            raise ValidationError(f"publication #{index}: {exc}") from None
    return checked


def _publication(value: object) -> Publication:
    if not isinstance(value, Publication):
        raise ValidationError(
            f"expected msgbus.Publication, got {type(value).__name__}: {_short(value)}")
    require_str("exchange name", value.exchange)
    require_str("routing key", value.routing_key)
    body = require_body(value.body)
    properties = require_properties(value.properties)
    if properties is not None and properties.headers is not None:
        properties = dataclasses.replace(
            properties, headers=wire_table(properties.headers, "headers"))
    if body is value.body and properties is value.properties:
        return value
    return dataclasses.replace(value, body=body, properties=properties)


def require_delivery_tag(value: object) -> int:
    """A delivery tag as AMQP carries it: an unsigned 64-bit int."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise ValidationError(
            f"delivery_tag must be an int in 0..2**64-1 (AMQP's longlong), got {value!r}")
    return value


def require_instance(what: str, value: _T, cls: type[Any], expected: str) -> _T:
    """``value`` if it is a ``cls``; else a ValidationError naming ``what`` and
    ``expected`` (e.g. a transport's constructor given a str instead of its broker)."""
    if not isinstance(value, cls):
        raise ValidationError(
            f"{what} must be {expected}, got {type(value).__name__}: {_short(value)}")
    return value


def require_callback(what: str, value: object) -> Callable[..., Any]:
    if not callable(value):
        raise ValidationError(f"{what} must be callable, got {_short(value)}")
    return value


def require_consume(queue: object, callback: object, prefetch: object, consumer_tag: object,
                    arguments: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The arguments of ``Transport.consume``: the queue name, the callback, the prefetch,
    the consumer tag (a short string, empty for one the broker picks) and the arguments
    table, as it arrives after encoding."""
    require_str("queue name", queue)
    require_callback("consumer callback", callback)
    require_prefetch(prefetch)
    require_str("consumer tag", consumer_tag)
    return wire_table(arguments, "consumer arguments")


def require_prefetch(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise ValidationError(f"prefetch must be an int in 0..65535, got {value!r}")
    return value


def wire_table(table: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    """``table`` (headers or arguments) as it arrives after encoding: datetimes become UTC
    seconds; a value no AMQP field table can carry, text UTF-8 cannot encode, or tables
    nested more than :data:`MAX_TABLE_DEPTH` deep raise ``ValidationError`` naming
    ``what`` and the key."""
    if table is None:
        return None
    return _table(table, what, what, 0)


def _table(table: object, what: str, where: str, depth: int) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ValidationError(f"{where} must be a mapping, got {type(table).__name__}")
    return {_key(k, where): _value(v, f"{where}[{k!r}]", what, depth)
            for k, v in table.items()}


def _key(key: object, what: str) -> str:
    if not isinstance(key, str):
        raise ValidationError(f"{what} keys must be str, got {type(key).__name__}: {key!r}")
    if not key.isascii():
        if len(_utf8(f"{what} key", key)) > 255:
            raise ValidationError(f"{what} key {key[:20]!r}... is longer than 255 bytes")
    elif len(key) > 255:
        raise ValidationError(f"{what} key {key[:20]!r}... is longer than 255 bytes")
    return key


def _value(value: Any, where: str, what: str, depth: int) -> Any:
    if isinstance(value, str):
        if not value.isascii():
            _utf8(where, value)
        return value
    if value is None or isinstance(value, (bytes, bool)):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValidationError(f"{where} must fit in a signed 64-bit integer, got {value}")
        return value
    if isinstance(value, decimal.Decimal):
        return _decimal(value, where)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        seconds = int(value.timestamp())
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    if isinstance(value, (Mapping, list)) and depth >= MAX_TABLE_DEPTH:
        raise ValidationError(
            f"{what} must not nest tables and arrays more than {MAX_TABLE_DEPTH} deep, got "
            f"deeper at {_short_where(where)}")
    if isinstance(value, Mapping):
        return _table(value, what, where, depth + 1)
    if isinstance(value, list):
        return [_value(item, f"{where}[{i}]", what, depth + 1) for i, item in enumerate(value)]
    raise ValidationError(
        f"{where} has a value of type {type(value).__name__} ({_short(value)}), which an "
        "AMQP field table cannot hold: use str, bytes, bool, int, Decimal, datetime, dict, "
        "list or None")


def _decimal(value: decimal.Decimal, where: str) -> decimal.Decimal:
    """A decimal goes on the wire as a scale (0..255 digits after the point) and a signed
    32-bit unscaled value."""
    if not value.is_finite():
        raise ValidationError(f"{where} must be a finite Decimal, got {value}")
    exponent = value.normalize().as_tuple().exponent
    scale = max(0, -int(exponent))  # an int: the value is finite
    unscaled = int(value.normalize().scaleb(scale))
    if scale > 255 or not -_INT32 <= unscaled < _INT32:
        raise ValidationError(
            f"{where} must have at most 255 decimal places and an unscaled value that fits "
            f"in 32 bits, got {value}")
    # as it is decoded: the unscaled value times ten to the minus scale (1.50 comes as 1.5)
    return decimal.Decimal(unscaled) * (decimal.Decimal(10) ** -scale)


def _short_where(where: str) -> str:
    return where if len(where) <= 80 else f"{where[:40]}...{where[-37:]}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
