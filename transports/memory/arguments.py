"""Validation and equivalence of declaration arguments, with RabbitMQ's exact reply texts."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Mapping
from typing import Any

from msgbus.errors import PreconditionFailed

__all__ = [
    "amqp_type",
    "check_consumer_arguments",
    "check_exchange_arguments",
    "check_exchange_equivalence",
    "check_flag",
    "check_queue_arguments",
    "check_queue_equivalence",
    "format_value",
    "parse_expiration",
]

Arguments = Mapping[str, Any]

#: Queue arguments RabbitMQ compares when a queue is declared again.
EQUIVALENCE_KEYS = (
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-expires",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-message-ttl",
    "x-overflow",
    "x-queue-mode",
    "x-queue-type",
    "x-single-active-consumer",
    "x-queue-master-locator",
    "x-queue-version",
)

OVERFLOW_MODES = ("drop-head", "reject-publish", "reject-publish-dlx")


def amqp_type(value: object) -> str:
    """The AMQP field-table type name of ``value``, as pika would encode it."""
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "signedint" if -(2**31) <= value < 2**31 else "long"
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
    """A value the way RabbitMQ prints it in reply texts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _where(kind: str, name: str, vhost: str) -> str:
    return f"for {kind} '{name}' in vhost '{vhost}'"


def _invalid(arg: str, queue: str, vhost: str, reason: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"PRECONDITION_FAILED - invalid arg '{arg}' {_where('queue', queue, vhost)}: {reason}"
    )


def _integer(arg: str, value: object, queue: str, vhost: str, *, zero_ok: bool = True,
             maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(arg, queue, vhost, f'"expected integer, got {amqp_type(value)}"')
    if value < 0:
        raise _invalid(arg, queue, vhost, f"{{value_negative,{value}}}")
    if value == 0 and not zero_ok:
        raise _invalid(arg, queue, vhost, f"{{value_zero,{value}}}")
    if maximum is not None and value > maximum:
        raise _invalid(arg, queue, vhost, f"{{max_value_exceeded,{value}}}")


def _string_arg(arg: str, value: object, queue: str, vhost: str) -> None:
    if not isinstance(value, (str, bytes)):
        raise _invalid(arg, queue, vhost, f"{{unacceptable_type,{amqp_type(value)}}}")


def check_queue_arguments(queue: str, vhost: str, arguments: Arguments, *, durable: bool) -> None:
    """Raise 406 as RabbitMQ does for invalid ``x-`` queue arguments."""
    checks: dict[str, Callable[[object], None]] = {
        "x-message-ttl": lambda v: _integer("x-message-ttl", v, queue, vhost),
        "x-expires": lambda v: _integer("x-expires", v, queue, vhost, zero_ok=False),
        "x-max-length": lambda v: _integer("x-max-length", v, queue, vhost),
        "x-max-length-bytes": lambda v: _integer("x-max-length-bytes", v, queue, vhost),
        "x-max-priority": lambda v: _integer("x-max-priority", v, queue, vhost, maximum=255),
        "x-dead-letter-routing-key": lambda v: _string_arg(
            "x-dead-letter-routing-key", v, queue, vhost
        ),
    }
    for key, check in checks.items():
        if key in arguments:
            check(arguments[key])
    dlx = arguments.get("x-dead-letter-exchange")
    if "x-dead-letter-exchange" in arguments and not isinstance(dlx, (str, bytes)):
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - invalid type '{amqp_type(dlx)}' for arg "
            f"'x-dead-letter-exchange' in queue '{queue}' in vhost '{vhost}'"
        )
    if "x-dead-letter-routing-key" in arguments and "x-dead-letter-exchange" not in arguments:
        raise _invalid("x-dead-letter-routing-key", queue, vhost, "routing_key_but_no_dlx_defined")
    if "x-overflow" in arguments:
        overflow = arguments["x-overflow"]
        if not isinstance(overflow, (str, bytes)):
            raise _invalid("x-overflow", queue, vhost,
                           f"{{unacceptable_type,{amqp_type(overflow)}}}")
        if format_value(overflow) not in OVERFLOW_MODES:
            raise _invalid("x-overflow", queue, vhost, "invalid_overflow")
    if "x-single-active-consumer" in arguments:
        sac = arguments["x-single-active-consumer"]
        if not isinstance(sac, bool):
            raise _invalid("x-single-active-consumer", queue, vhost,
                           f"{{unacceptable_type,{amqp_type(sac)}}}")
    if "x-queue-mode" in arguments:
        mode = format_value(arguments["x-queue-mode"])
        if mode not in ("default", "lazy"):
            raise _invalid("x-queue-mode", queue, vhost, f"\"unsupported queue mode '{mode}'\"")
    if "x-queue-type" in arguments:
        qtype = format_value(arguments["x-queue-type"])
        if qtype not in ("classic", "quorum", "stream"):
            raise _invalid("x-queue-type", queue, vhost, f"\"unsupported queue type '{qtype}'\"")
        if qtype != "classic":
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - x-queue-type '{qtype}' is not supported by the "
                f"in-memory broker (queue '{queue}' in vhost '{vhost}')"
            )


def _same(a: object, b: object) -> bool:
    if isinstance(a, bytes):
        a = a.decode("utf-8", "replace")
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _inequivalent(arg: str, kind: str, name: str, vhost: str, received: object,
                  current: object, *, missing: object = None) -> PreconditionFailed:
    def show(value: object) -> str:
        if value is missing:
            return "none"
        return f"the value '{format_value(value)}' of type '{amqp_type(value)}'"

    if received is not missing and current is not missing:
        detail = f"received '{format_value(received)}' but current is '{format_value(current)}'"
    else:
        detail = f"received {show(received)} but current is {show(current)}"
    return PreconditionFailed(
        f"PRECONDITION_FAILED - inequivalent arg '{arg}' {_where(kind, name, vhost)}: {detail}"
    )


def check_flag(arg: str, kind: str, name: str, vhost: str, received: object,
               current: object) -> None:
    """406 when a declared property (type, durable, auto_delete, ...) differs."""
    if received != current:
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - inequivalent arg '{arg}' {_where(kind, name, vhost)}: "
            f"received '{format_value(received)}' but current is '{format_value(current)}'"
        )


def check_queue_equivalence(name: str, vhost: str, received: Arguments, current: Arguments) -> None:
    """406 when a redeclared queue's significant arguments differ."""
    missing = object()
    for key in EQUIVALENCE_KEYS:
        new, old = received.get(key, missing), current.get(key, missing)
        if new is missing and old is missing:
            continue
        if new is missing or old is missing or not _same(new, old):
            raise _inequivalent(key, "queue", name, vhost, new, old, missing=missing)


def check_exchange_equivalence(name: str, vhost: str, received: Arguments,
                               current: Arguments) -> None:
    """406 when a redeclared exchange's ``alternate-exchange`` differs."""
    missing = object()
    new = received.get("alternate-exchange", missing)
    old = current.get("alternate-exchange", missing)
    if (new is missing) != (old is missing) or (new is not missing and not _same(new, old)):
        raise _inequivalent("alternate-exchange", "exchange", name, vhost, new, old,
                            missing=missing)


def check_exchange_arguments(name: str, vhost: str, arguments: Arguments) -> None:
    """406 for an ``alternate-exchange`` that is not a string."""
    if "alternate-exchange" in arguments:
        ae = arguments["alternate-exchange"]
        if not isinstance(ae, (str, bytes)):
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - invalid type '{amqp_type(ae)}' for arg "
                f"'alternate-exchange' in exchange '{name}' in vhost '{vhost}'"
            )


def check_consumer_arguments(queue: str, vhost: str, arguments: Arguments) -> None:
    """406 for a non-integer ``x-priority`` consumer argument."""
    if "x-priority" in arguments:
        priority = arguments["x-priority"]
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise _invalid("x-priority", queue, vhost,
                           f'"expected integer, got {amqp_type(priority)}"')


def parse_expiration(value: object) -> int | None:
    """Milliseconds from a message's ``expiration`` property; 406 as RabbitMQ for bad ones."""
    if value is None:
        return None
    text = format_value(value)
    try:
        ms = int(text)
    except ValueError:
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - invalid expiration '{text}': no_integer"
        ) from None
    if ms < 0:
        raise PreconditionFailed(
            f"PRECONDITION_FAILED - invalid expiration '{text}': {{value_negative,{ms}}}"
        )
    return ms
