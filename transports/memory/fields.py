"""AMQP field values as they come out of the wire: :func:`wire_table` (what a client can
send in headers and arguments, normalised the way a round trip through RabbitMQ normalises
it, shared with every transport) and the integer width the broker itself writes."""

from __future__ import annotations

from msgbus.checks import wire_table

__all__ = ["Long", "wire_table"]


class Long(int):
    """An integer field value the broker itself writes as a 64-bit ``long`` (as RabbitMQ
    writes an ``x-death`` count); clients that tell integer widths apart see a long."""

    __slots__ = ()
