"""AMQP field tables as they come out of the wire: what a client can send in headers and
arguments, normalised the way a round trip through RabbitMQ normalises it."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import Any

from msgbus.errors import ValidationError

__all__ = ["Long", "wire_table"]

_INT64 = 2**63


class Long(int):
    """An integer field value the broker itself writes as a 64-bit ``long`` (as RabbitMQ
    writes an ``x-death`` count); clients that tell integer widths apart see a long."""

    __slots__ = ()


def wire_table(table: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    """``table`` as it arrives after encoding: datetimes become UTC seconds, unsupported
    values raise :class:`~msgbus.errors.ValidationError` naming ``what`` and the key."""
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ValidationError(f"{what} must be a mapping, got {type(table).__name__}")
    return {_key(k, what): _value(v, f"{what}[{k!r}]") for k, v in table.items()}


def _key(key: object, what: str) -> str:
    if not isinstance(key, str):
        raise ValidationError(f"{what} keys must be str, got {type(key).__name__}: {key!r}")
    if len(key.encode()) > 255:
        raise ValidationError(f"{what} key {key[:20]!r}... is longer than 255 bytes")
    return key


def _value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (str, bytes, bool, decimal.Decimal)):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValidationError(f"{where} must fit in a signed 64-bit integer, got {value}")
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        seconds = int(value.timestamp())
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    if isinstance(value, Mapping):
        return wire_table(value, where)
    if isinstance(value, list):
        return [_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValidationError(
        f"{where} has a value of type {type(value).__name__} ({value!r}), which an AMQP "
        "field table cannot hold: use str, bytes, bool, int, Decimal, datetime, dict, list "
        "or None")
