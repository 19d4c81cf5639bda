"""What a memory broker holds, printed the way ``rabbitmqctl list_*`` prints it — aligned.

::

    from contrib.views import broker_state, queues_table, mermaid

    print(queues_table(broker))        # name  messages_ready  messages_unacknowledged ...
    print(broker_state(broker))        # every table, for a failing test's report
    print(mermaid(broker))             # the topology as a Mermaid flowchart

These read :class:`~transports.memory.Broker` snapshots. A real RabbitMQ server has its
own tools for this: ``rabbitmqctl list_queues name messages_ready ...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transports.memory import Broker

__all__ = [
    "TABLES",
    "bindings_table",
    "broker_state",
    "channels_table",
    "connections_table",
    "exchanges_table",
    "format_arguments",
    "format_table",
    "mermaid",
    "queues_table",
]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns left-aligned under their headers, two spaces apart; no trailing blanks."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    lines = []
    for row in [list(headers), *cells]:
        lines.append("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
                     .rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return format_arguments(value)
    return str(value)


def format_arguments(arguments: Mapping[str, Any]) -> str:
    """``{'x-message-ttl': 500}`` as ``x-message-ttl=500``; several separated by commas."""
    return ", ".join(f"{key}={_value(value)}" for key, value in arguments.items())


def _value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _name(name: str) -> str:
    return name if name else "(default)"


def queues_table(broker: Broker, vhost: str = "/") -> str:
    """name, messages_ready, messages_unacknowledged, consumers, arguments."""
    return format_table(
        ["name", "messages_ready", "messages_unacknowledged", "consumers", "arguments"],
        [[q.name, q.messages_ready, q.messages_unacknowledged, q.consumers, q.arguments]
         for q in broker.queues(vhost)])


def exchanges_table(broker: Broker, vhost: str = "/") -> str:
    """name, type, durable, auto_delete, internal (the default exchange is ``(default)``)."""
    return format_table(
        ["name", "type", "durable", "auto_delete", "internal"],
        [[_name(x.name), x.type, x.durable, x.auto_delete, x.internal]
         for x in broker.exchanges(vhost)])


def bindings_table(broker: Broker, vhost: str = "/") -> str:
    """source, destination, destination_kind, routing_key, arguments."""
    return format_table(
        ["source", "destination", "destination_kind", "routing_key", "arguments"],
        [[_name(b.source), b.destination, b.destination_kind, b.routing_key, b.arguments]
         for b in broker.bindings(vhost)])


def connections_table(broker: Broker) -> str:
    """id, name, vhost, user, channels."""
    return format_table(
        ["id", "name", "vhost", "user", "channels"],
        [[c.id, c.name, c.vhost, c.user, c.channels] for c in broker.connections()])


def channels_table(broker: Broker) -> str:
    """connection, number, consumers, messages_unacknowledged, prefetch_count, confirm."""
    return format_table(
        ["connection", "number", "consumers", "messages_unacknowledged", "prefetch_count",
         "global_prefetch_count", "confirm"],
        [[c.connection, c.number, c.consumers, c.messages_unacknowledged, c.prefetch_count,
          c.global_prefetch_count, c.confirm] for c in broker.channels()])


def _queues(broker: Broker, vhost: str) -> str:
    return queues_table(broker, vhost)


def _exchanges(broker: Broker, vhost: str) -> str:
    return exchanges_table(broker, vhost)


def _bindings(broker: Broker, vhost: str) -> str:
    return bindings_table(broker, vhost)


def _connections(broker: Broker, vhost: str) -> str:
    return connections_table(broker)


def _channels(broker: Broker, vhost: str) -> str:
    return channels_table(broker)


#: What ``msgbus list WHAT`` can print: WHAT -> table function.
TABLES = {
    "queues": _queues,
    "exchanges": _exchanges,
    "bindings": _bindings,
    "connections": _connections,
    "channels": _channels,
}


def broker_state(broker: Broker, vhost: str = "/") -> str:
    """Every table under a title: what a failing test shows of its broker."""
    parts = [f"{title}:\n{_indent(table(broker, vhost))}" for title, table in TABLES.items()]
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# -- Mermaid -----------------------------------------------------------------------


def mermaid(broker: Broker, vhost: str = "/", *, include_default: bool = False) -> str:
    """The topology as a Mermaid ``flowchart``: exchanges as hexagons, queues as cylinders,
    bindings as arrows labelled with their key (or arguments).

    The default exchange's implicit binding to every queue is left out unless
    ``include_default``; so are the predeclared ``amq.*`` exchanges nobody bound to.
    """
    bindings = [b for b in broker.bindings(vhost) if include_default or b.source]
    used = {b.source for b in bindings} | {b.destination for b in bindings
                                           if b.destination_kind == "exchange"}
    exchanges = [x for x in broker.exchanges(vhost)
                 if x.name in used or not (x.name == "" or x.name.startswith("amq."))]
    ids: dict[tuple[str, str], str] = {}
    lines = ["flowchart LR"]
    for i, x in enumerate(exchanges):
        ids["exchange", x.name] = f"x{i}"
        lines.append(f'    x{i}{{{{"{_label(_name(x.name))}<br/>{x.type}"}}}}')
    for i, q in enumerate(broker.queues(vhost)):
        ids["queue", q.name] = f"q{i}"
        lines.append(f'    q{i}[("{_label(q.name)}")]')
    for b in bindings:
        source = ids.get(("exchange", b.source))
        target = ids.get((b.destination_kind, b.destination))
        if source is None or target is None:
            continue
        label = b.routing_key if not b.arguments else format_arguments(b.arguments)
        arrow = f'-->|"{_label(label)}"|' if label else "-->"
        lines.append(f"    {source} {arrow} {target}")
    return "\n".join(lines)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")
