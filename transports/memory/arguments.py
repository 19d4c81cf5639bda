"""Validation and equivalence of declaration arguments, with RabbitMQ 3.10's exact replies.

RabbitMQ checks a new queue's arguments in a fixed order: the ``x-queue-type`` value first,
then each argument its queue type knows, in the order of its validator table (so a bad
``x-expires`` is reported before a bad ``x-message-ttl``), then arguments that belong to
another queue type (``x-delivery-limit`` on a classic queue), in the order they were sent.
A failed validator's reason is printed with Erlang's ``~255p``. A redeclared queue is
compared on the arguments of its own type only, in that same order; values compare by type
class (a 32-bit and a 64-bit integer are equal, ``str`` and ``bytes`` are equal when their
bytes are).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Mapping
from typing import Any

from msgbus.errors import InternalError, PreconditionFailed
from transports.memory.erlang_terms import (
    Atom,
    Charlist,
    ETuple,
    Term,
    erlang_format,
    field_value,
)

__all__ = [
    "QUEUE_TYPES",
    "amqp_type",
    "check_consumer_arguments",
    "check_dead_letter_exchange",
    "check_exchange_arguments",
    "check_exchange_equivalence",
    "check_flag",
    "check_message",
    "check_queue_arguments",
    "check_queue_equivalence",
    "check_server_named",
    "format_value",
    "parse_expiration",
    "queue_type_of",
]

Arguments = Mapping[str, Any]
FieldValue = tuple[str, Term]  # (AMQP type, Erlang term), as RabbitMQ decodes a table value

#: Queue type -> the module name RabbitMQ prints for it.
QUEUE_TYPES = {
    "classic": "rabbit_classic_queue",
    "quorum": "rabbit_quorum_queue",
    "stream": "rabbit_stream_queue",
}

#: The queue arguments each queue type accepts (``capabilities()``), in RabbitMQ's order:
#: the order redeclared queues are compared in.
QUEUE_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "classic": (
        "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
        "x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
        "x-queue-version", "x-single-active-consumer", "x-queue-type",
        "x-queue-master-locator",
    ),
    "quorum": (
        "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-dead-letter-strategy",
        "x-expires", "x-max-length", "x-max-length-bytes", "x-max-in-memory-length",
        "x-max-in-memory-bytes", "x-overflow", "x-single-active-consumer", "x-queue-type",
        "x-quorum-initial-group-size", "x-delivery-limit", "x-message-ttl",
        "x-queue-leader-locator",
    ),
    "stream": (
        "x-max-length-bytes", "x-queue-type", "x-max-age", "x-stream-max-segment-size-bytes",
        "x-initial-cluster-size", "x-queue-leader-locator",
    ),
}
_ALL_QUEUE_ARGUMENTS = frozenset(a for names in QUEUE_ARGUMENTS.values() for a in names)

CONSUMER_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "classic": ("x-cancel-on-ha-failover", "x-priority", "x-credit"),
    "quorum": ("x-priority", "x-credit"),
    "stream": ("x-stream-offset", "x-credit"),
}
_ALL_CONSUMER_ARGUMENTS = frozenset(a for names in CONSUMER_ARGUMENTS.values() for a in names)

OVERFLOW_MODES = (b"drop-head", b"reject-publish", b"reject-publish-dlx")
_INTEGER_TYPES = ("byte", "short", "signedint", "long", "unsignedbyte", "unsignedshort",
                  "unsignedint")
#: rabbit_misc:check_expiry: TTLs and expiry up to ten years (in milliseconds).
MAX_EXPIRY = 315_360_000_000
_MASTER_LOCATORS = (b"client-local", b"min-masters", b"random")
_LEADER_LOCATORS = (b"client-local", b"balanced", b"random", b"least-leaders")
_MAX_AGE_UNITS = {"Y": 365 * 86_400_000, "M": 30 * 86_400_000, "D": 86_400_000,
                  "h": 3_600_000, "m": 60_000, "s": 1000}


# -- printing ------------------------------------------------------------------------------


def amqp_type(value: object) -> str:
    """The AMQP field-table type name of ``value``, as pika would encode it."""
    typed = getattr(type(value), "amqp_field", None)
    if typed is not None:
        return str(typed)
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return field_value(value)[0]
    if isinstance(value, float):
        return "double"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, str):
        return "longstr"
    if isinstance(value, bytes):
        return "binary"
    if isinstance(value, datetime.datetime):
        return "timestamp"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def format_value(value: object) -> str:
    """A plain value the way RabbitMQ prints it in reply texts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _explain(name: str, head: str, term: Term, tail: str = "", *, line: int = 80) -> str:
    """``NAME - head~p tail`` as RabbitMQ formats it (``head`` is already text; ``~p`` starts
    where the head ends, counted in bytes)."""
    raw_head = head.encode()
    printed = erlang_format(term, len(raw_head) + 1, line).encode("latin-1")
    return f"{name} - " + (raw_head + printed + tail.encode()).decode("utf-8", "replace")


def _rs(kind: str, name: str, vhost: str) -> str:
    return f"{kind} '{name}' in vhost '{vhost}'"


# -- queue.declare ---------------------------------------------------------------------------


def _lookup(arguments: Arguments, key: str) -> FieldValue | None:
    if key not in arguments:
        return None
    return field_value(arguments[key])


def _tuple(*items: Term) -> ETuple:
    return ETuple(items)


def _int_arg(value: FieldValue) -> Term | None:
    kind, _ = value
    if kind in _INTEGER_TYPES:
        return None
    return Charlist(f"expected integer, got {kind}".encode())


def _non_neg_int(value: FieldValue) -> Term | None:
    error = _int_arg(value)
    if error is None and value[1] < 0:
        return _tuple(Atom("value_negative"), value[1])
    return error


def _expiry(ms: int) -> Term | None:
    if ms < 0:
        return _tuple(Atom("value_negative"), ms)
    if ms > MAX_EXPIRY:
        return _tuple(Atom("value_too_large"), ms)
    return None


def _expires(value: FieldValue, _: Arguments) -> Term | None:
    error = _int_arg(value)
    if error is not None:
        return error
    if value[1] == 0:
        return _tuple(Atom("value_zero"), 0)
    return _expiry(value[1])


def _message_ttl(value: FieldValue, _: Arguments) -> Term | None:
    error = _int_arg(value)
    return error if error is not None else _expiry(value[1])


def _non_negative(value: FieldValue, _: Arguments) -> Term | None:
    return _non_neg_int(value)


def _max_priority(value: FieldValue, _: Arguments) -> Term | None:
    error = _non_neg_int(value)
    if error is None and value[1] > 255:
        return _tuple(Atom("max_value_exceeded"), value[1])
    return error


def _cluster_size(value: FieldValue, _: Arguments) -> Term | None:
    error = _non_neg_int(value)
    if error is None and value[1] == 0:
        return _tuple(Atom("value_zero"), 0)
    return error


def _unacceptable(kind: str) -> ETuple:
    return _tuple(Atom("unacceptable_type"), Atom(kind))


def _boolean(value: FieldValue, _: Arguments) -> Term | None:
    return None if value[0] == "bool" else _unacceptable(value[0])


def _longstr(value: FieldValue, _: Arguments) -> Term | None:
    return None if value[0] == "longstr" else _unacceptable(value[0])


def _one_of(choices: tuple[bytes, ...], reason: str
            ) -> Callable[[FieldValue, Arguments], Term | None]:
    def check(value: FieldValue, _: Arguments) -> Term | None:
        if value[0] != "longstr":
            return _unacceptable(value[0])
        return None if value[1] in choices else Atom(reason)
    return check


def _dead_letter_routing_key(value: FieldValue, arguments: Arguments) -> Term | None:
    if value[0] != "longstr":
        return _unacceptable(value[0])
    if "x-dead-letter-exchange" not in arguments:
        return Atom("routing_key_but_no_dlx_defined")
    return None


def _unsupported(what: str, choices: tuple[bytes, ...]
                 ) -> Callable[[FieldValue, Arguments], Term | None]:
    def check(value: FieldValue, _: Arguments) -> Term | None:
        if value[0] != "longstr":
            return _unacceptable(value[0])
        if value[1] in choices:
            return None
        return Charlist(b"unsupported queue " + what.encode() + b" '" + value[1] + b"'")
    return check


def _queue_version(value: FieldValue, _: Arguments) -> Term | None:
    error = _non_neg_int(value)
    if error is None and value[1] not in (1, 2):
        return Charlist(f"unsupported queue version '{value[1]}'".encode())
    return error


def max_age_ms(text: bytes) -> int | None:
    """``x-max-age`` (``"7D"``, ``"12h"``) in milliseconds; None when invalid. Raises
    :class:`InternalError` where RabbitMQ crashes (no digits at all)."""
    digits = len(text) - len(text.lstrip(b"0123456789"))
    if digits == 0:
        raise InternalError("INTERNAL_ERROR")
    number, unit = int(text[:digits]), _latin1(text[digits:])
    if number <= 0 or unit not in _MAX_AGE_UNITS:
        return None
    return number * _MAX_AGE_UNITS[unit]


def _max_age(value: FieldValue, _: Arguments) -> Term | None:
    if value[0] != "longstr":
        return _unacceptable(value[0])
    return None if max_age_ms(value[1]) is not None else Atom("invalid_max_age")


#: rabbit_amqqueue:declare_args(): every validator, in the order RabbitMQ runs them.
_DECLARE_VALIDATORS: tuple[tuple[str, Callable[[FieldValue, Arguments], Term | None]], ...] = (
    ("x-expires", _expires),
    ("x-message-ttl", _message_ttl),
    ("x-dead-letter-exchange", _longstr),
    ("x-dead-letter-routing-key", _dead_letter_routing_key),
    ("x-dead-letter-strategy", _one_of((b"at-most-once", b"at-least-once"),
                                       "invalid_dlx_strategy")),
    ("x-max-length", _non_negative),
    ("x-max-length-bytes", _non_negative),
    ("x-max-in-memory-length", _non_negative),
    ("x-max-in-memory-bytes", _non_negative),
    ("x-max-priority", _max_priority),
    ("x-overflow", _one_of(OVERFLOW_MODES, "invalid_overflow")),
    ("x-queue-mode", _unsupported("mode", (b"default", b"lazy"))),
    ("x-queue-version", _queue_version),
    ("x-single-active-consumer", _boolean),
    ("x-queue-type", _unsupported("type", tuple(t.encode() for t in QUEUE_TYPES))),
    ("x-quorum-initial-group-size", _cluster_size),
    ("x-max-age", _max_age),
    ("x-stream-max-segment-size-bytes", _non_negative),
    ("x-initial-cluster-size", _cluster_size),
    ("x-queue-leader-locator", _one_of(_LEADER_LOCATORS, "invalid_queue_locator_arg")),
)
_QUEUE_TYPE_VALIDATOR = _DECLARE_VALIDATORS[14]


def _invalid_arg(key: str, queue: str, vhost: str, reason: Term) -> PreconditionFailed:
    return PreconditionFailed(_explain(
        PreconditionFailed.name, f"invalid arg '{key}' for {_rs('queue', queue, vhost)}: ",
        reason, line=255))


def _run_validators(queue: str, vhost: str, arguments: Arguments, validators: Any) -> None:
    for key, check in validators:
        value = _lookup(arguments, key)
        if value is not None:
            reason = check(value, arguments)
            if reason is not None:
                raise _invalid_arg(key, queue, vhost, reason)


def queue_type_of(arguments: Arguments) -> str:
    """The queue type that ``arguments`` (already validated) declare."""
    qtype = arguments.get("x-queue-type")
    if qtype is None:
        return "classic"
    return qtype.decode() if isinstance(qtype, bytes) else str(qtype)


def check_server_named(arguments: Arguments) -> None:
    """queue.declare with an empty name: only classic queues may be server-named."""
    if "x-queue-type" not in arguments:
        return
    qtype = arguments["x-queue-type"]
    name = qtype.decode() if isinstance(qtype, bytes) else qtype
    if not isinstance(name, str) or name not in QUEUE_TYPES:
        raise InternalError("INTERNAL_ERROR")  # RabbitMQ's queue type lookup crashes
    if name != "classic":
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - Cannot declare a server-named queue for type "
            f"{QUEUE_TYPES[name]}")


def check_dead_letter_exchange(queue: str, vhost: str, arguments: Arguments) -> None:
    """The channel's own check of a new queue's ``x-dead-letter-exchange``: a string."""
    _require_longstr("x-dead-letter-exchange", "queue", queue, vhost, arguments)


def _require_longstr(arg: str, kind: str, name: str, vhost: str, arguments: Arguments) -> None:
    value = _lookup(arguments, arg)
    if value is not None and value[0] != "longstr":
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - invalid type '{value[0]}' for arg '{arg}' in "
            f"{_rs(kind, name, vhost)}")


def check_queue_arguments(queue: str, vhost: str, arguments: Arguments, *, durable: bool,
                          exclusive: bool, auto_delete: bool) -> str:
    """Raise as RabbitMQ does for a new queue's invalid arguments or properties; return
    its queue type. ``durable`` is what the queue gets (an exclusive queue is never)."""
    _run_validators(queue, vhost, arguments, (_QUEUE_TYPE_VALIDATOR,))
    qtype = queue_type_of(arguments)
    known = QUEUE_ARGUMENTS[qtype]
    _run_validators(queue, vhost, arguments,
                    [(key, check) for key, check in _DECLARE_VALIDATORS if key in known])
    for key in arguments:
        if key in _ALL_QUEUE_ARGUMENTS and key not in known:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - invalid arg '{key}' for {_rs('queue', queue, vhost)} "
                f"of queue type {QUEUE_TYPES[qtype]}")
    if qtype != "classic":
        where = _rs("queue", queue, vhost)
        for refused, prop in ((auto_delete, "auto-delete"), (exclusive, "exclusive-owner"),
                              (not durable, "non-durable")):
            if refused:
                raise PreconditionFailed(
                    f"PRECONDITION_FAILED - invalid property '{prop}' for {where}")
        segment = _lookup(arguments, "x-stream-max-segment-size-bytes")
        if qtype == "stream" and segment is not None and segment[1] > 3_000_000_000:
            raise PreconditionFailed(
                "PRECONDITION_FAILED - Exceeded max value for x-stream-max-segment-size-bytes")
    elif "x-queue-master-locator" in arguments:
        locator = _lookup(arguments, "x-queue-master-locator")
        if locator is None or locator[0] != "longstr" or locator[1] not in _MASTER_LOCATORS:
            raise InternalError("INTERNAL_ERROR")  # RabbitMQ's node selection crashes
    return qtype


# -- equivalence -----------------------------------------------------------------------------


def _type_class(kind: str) -> str:
    if kind in _INTEGER_TYPES or kind == "decimal":
        return "int"
    if kind in ("float", "double"):
        return "float"
    return kind


def _identical(a: Term, b: Term) -> bool:
    """Erlang ``=:=``: equal values of the same type (``1`` and ``1.0`` differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, ETuple):
        return _identical(a.items, b.items)
    return bool(a == b)


def _shown(value: FieldValue | Term | None) -> str:
    """rabbit_misc:val/1: how an argument appears in an ``inequivalent arg`` reply."""
    if value is None:
        return "none"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        kind, term = value
        shown = _latin1(term) if isinstance(term, bytes) else erlang_format(term, 12)
        return f"the value '{shown}' of type '{kind}'"
    if isinstance(value, ETuple) and len(value.items) == 2:
        raise InternalError("INTERNAL_ERROR")  # a decimal is taken for {Type, Value}: crash
    return "'" + (_latin1(value) if isinstance(value, bytes) else erlang_format(value, 2)) + "'"


def _inequivalent(key: str, kind: str, name: str, vhost: str, received: Any,
                  current: Any) -> PreconditionFailed:
    where = _latin1(_rs(kind, name, vhost).encode())  # one character per byte, as Erlang
    text = (f"inequivalent arg '{key}' for {where}: received {_shown(received)} but current "
            f"is {_shown(current)}")
    return PreconditionFailed(
        f"{PreconditionFailed.name} - " + text.encode("latin-1").decode("utf-8", "replace"))


def _check_arg(key: str, kind: str, name: str, vhost: str, received: Arguments,
               current: Arguments) -> None:
    old, new = _lookup(current, key), _lookup(received, key)
    if old == new:
        return
    if old is not None and new is not None:
        if _type_class(old[0]) == _type_class(new[0]) and old[1] == new[1]:
            return
        if _identical(old[1], new[1]):
            return
        raise _inequivalent(key, kind, name, vhost, new[1], old[1])
    if key == "x-queue-type" and (old or new) == ("longstr", b"classic"):
        return
    raise _inequivalent(key, kind, name, vhost, new, old)


def check_flag(arg: str, kind: str, name: str, vhost: str, received: object,
               current: object) -> None:
    """406 when a declared property (type, durable, auto_delete, ...) differs."""
    if received != current:
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - inequivalent arg '{arg}' for {_rs(kind, name, vhost)}: "
            f"received '{format_value(received)}' but current is '{format_value(current)}'"
        )


def check_queue_equivalence(name: str, vhost: str, received: Arguments, current: Arguments,
                            queue_type: str = "classic") -> None:
    """406 when a redeclared queue's significant arguments differ."""
    for key in QUEUE_ARGUMENTS[queue_type]:
        _check_arg(key, "queue", name, vhost, received, current)


def check_exchange_equivalence(name: str, vhost: str, received: Arguments,
                               current: Arguments) -> None:
    """406 when a redeclared exchange's ``alternate-exchange`` differs."""
    _check_arg("alternate-exchange", "exchange", name, vhost, received, current)


# -- exchange.declare, basic.consume ---------------------------------------------------------


def check_exchange_arguments(name: str, vhost: str, arguments: Arguments) -> None:
    """A new exchange's ``alternate-exchange`` must be a string (406)."""
    _require_longstr("alternate-exchange", "exchange", name, vhost, arguments)


def _stream_offset(value: FieldValue, _: Arguments) -> Term | None:
    kind, term = value
    if kind == "longstr" and term not in (b"first", b"last", b"next") \
            and max_age_ms(term) is None:
        return _tuple(Atom("invalid_stream_offset_arg"), _tuple(Atom(kind), term))
    return None


_CONSUME_VALIDATORS: tuple[tuple[str, Callable[[FieldValue, Arguments], Term | None]], ...] = (
    ("x-priority", lambda value, _: _int_arg(value)),
    ("x-cancel-on-ha-failover", _boolean),
    ("x-stream-offset", _stream_offset),
)


def check_consumer_arguments(queue: str, vhost: str, arguments: Arguments,
                             queue_type: str = "classic") -> None:
    """406 for consumer arguments RabbitMQ refuses (a non-integer ``x-priority``, an
    argument of another queue type, ...)."""
    if not arguments:
        return
    known = CONSUMER_ARGUMENTS[queue_type]
    _run_validators(queue, vhost, arguments,
                    [(key, check) for key, check in _CONSUME_VALIDATORS if key in known])
    for key in arguments:
        if key in _ALL_CONSUMER_ARGUMENTS and key not in known:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - invalid arg '{key}' for {_rs('queue', queue, vhost)} "
                f"of queue type {QUEUE_TYPES[queue_type]}")


# -- basic.publish ---------------------------------------------------------------------------


def _to_integer(text: bytes) -> tuple[int, bytes] | None:
    """Erlang's ``string:to_integer``: an optional sign and ASCII digits at the start; the
    number and what is left over, None when there is no number."""
    sign = 1
    rest = text
    if rest[:1] in (b"+", b"-"):
        sign = -1 if rest[:1] == b"-" else 1
        rest = rest[1:]
    digits = len(rest) - len(rest.lstrip(b"0123456789"))
    if digits == 0:
        return None
    return sign * int(rest[:digits]), rest[digits:]


def parse_expiration(value: object) -> int | None:
    """Milliseconds from a message's ``expiration`` property; 406 as RabbitMQ for bad ones."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and value.isascii() and len(value) < 12:
        return int(value)  # the common case, well within the limit
    raw = value if isinstance(value, bytes) else str(value).encode()
    parsed = _to_integer(raw)
    reason: Term
    if parsed is None:
        reason = Atom("no_integer")
    elif parsed[1]:
        reason = _tuple(Atom("leftover_string"), Charlist(parsed[1]))
    else:
        error = _expiry(parsed[0])
        if error is None:
            return parsed[0]
        reason = error
    raise PreconditionFailed(_explain(
        PreconditionFailed.name, f"invalid expiration '{raw.decode('utf-8', 'replace')}': ",
        reason))


def check_message(properties: Any) -> None:
    """The checks basic.publish makes of a message's properties (406), in RabbitMQ's order:
    its ``expiration``, ``CC`` / ``BCC`` headers that are arrays, its ``delivery_mode``
    (1, 2 or none)."""
    if properties.expiration is not None:
        parse_expiration(properties.expiration)
    reason: Term | None = None
    headers = properties.headers
    for header in ("CC", "BCC"):
        if headers and header in headers and not isinstance(headers[header], list):
            kind = field_value(headers[header])[0]
            reason = _tuple(Atom("unacceptable_type_in_header"), Charlist(header.encode()),
                            Atom(kind))
            break
    mode = properties.delivery_mode
    if reason is None and mode is not None and mode not in (1, 2):
        reason = _tuple(Atom("delivery_mode_unknown"), int(mode))
    if reason is not None:
        raise PreconditionFailed(_explain(PreconditionFailed.name, "invalid message: ", reason))
