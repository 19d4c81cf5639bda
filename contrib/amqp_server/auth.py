"""What the server announces in ``connection.start``, and SASL: PLAIN and AMQPLAIN."""

from __future__ import annotations

import platform
import struct
from collections.abc import Mapping
from typing import Any

from contrib.amqp_server.fields import TableError, decode_table

__all__ = [
    "CAPABILITIES",
    "MECHANISMS",
    "AuthFailure",
    "client_capability",
    "credentials",
    "refusal_text",
    "server_properties",
]

#: The SASL mechanisms RabbitMQ 3.10 offers, in its order.
MECHANISMS = "AMQPLAIN PLAIN"

#: The capabilities RabbitMQ 3.10 announces; clients switch features on by them.
CAPABILITIES: dict[str, bool] = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "consumer_priorities": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
    "direct_reply_to": True,
}

#: Clients choose features by product and version too: we are RabbitMQ 3.10 to them.
VERSION = "3.10.8"


class AuthFailure(Exception):
    """An unknown mechanism or a response that does not parse (the socket is closed)."""


def server_properties(node_name: str) -> dict[str, Any]:
    return {
        "capabilities": dict(CAPABILITIES),
        "cluster_name": node_name,
        "copyright": "msgbus: an in-process broker served over AMQP 0-9-1",
        "information": "msgbus embedded broker; behaves like RabbitMQ 3.10",
        "platform": f"Python/{platform.python_version()}",
        "product": "RabbitMQ",
        "version": VERSION,
    }


def credentials(mechanism: str, response: Any) -> tuple[str, str]:
    """The user name and password a ``connection.start-ok`` carries."""
    raw = response.encode("utf-8", "surrogateescape") if isinstance(response, str) else bytes(
        response or b"")
    if mechanism == "PLAIN":
        parts = raw.split(b"\0")
        if len(parts) != 3:
            raise AuthFailure("PLAIN response is not authzid NUL user NUL password")
        return _text(parts[1]), _text(parts[2])
    if mechanism == "AMQPLAIN":
        try:
            table, _ = decode_table(struct.pack(">I", len(raw)) + raw, 0)
        except TableError as error:
            raise AuthFailure("AMQPLAIN response is not a field table") from error
        login, password = table.get("LOGIN"), table.get("PASSWORD")
        if login is None or password is None:
            raise AuthFailure("AMQPLAIN response lacks LOGIN or PASSWORD")
        if not isinstance(login, (str, bytes)) or not isinstance(password, (str, bytes)):
            raise AuthFailure("AMQPLAIN response's LOGIN or PASSWORD is not a string")
        return _text(login), _text(password)
    raise AuthFailure(f"unknown authentication mechanism {mechanism!r}")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def client_capability(client_properties: Mapping[str, Any], name: str) -> bool:
    capabilities = client_properties.get("capabilities")
    return isinstance(capabilities, Mapping) and capabilities.get(name) is True


def refusal_text(mechanism: str) -> str:
    return (f"ACCESS_REFUSED - Login was refused using authentication mechanism {mechanism}. "
            "For details see the broker logfile.")
