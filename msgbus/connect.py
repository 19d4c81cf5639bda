"""``connect(url)``: a :class:`~msgbus.transport.Transport` from a URL.

- ``memory://`` — the process's default in-memory broker;
- ``memory://NAME`` — the in-memory broker called NAME (made on first use);
- ``amqp://user:pass@host:port/vhost`` and ``amqps://...`` — a RabbitMQ server.

Without a URL, ``MSGBUS_URL`` is read; without that, ``memory://``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from msgbus.errors import ValidationError

if TYPE_CHECKING:  # ``import msgbus`` stays cheap: the transports import it when used
    from msgbus.transport import Transport

__all__ = ["DEFAULT_URL", "connect", "default_url"]

DEFAULT_URL = "memory://"


def default_url() -> str:
    """``MSGBUS_URL`` when set, else ``memory://``."""
    return os.environ.get("MSGBUS_URL") or DEFAULT_URL


def connect(url: str | None = None) -> Transport:
    """Open a transport for ``url`` (default: :func:`default_url`)."""
    url = url if url is not None else default_url()
    if not isinstance(url, str):
        raise ValidationError(f"connect() expects a URL string, got {type(url).__name__}")
    head, colon, _ = url.partition(":")
    scheme = head.lower() if colon else ""
    if scheme == "memory":
        from transports.memory import MemoryTransport, named_broker

        try:
            name = urlsplit(url).netloc
        except ValueError as exc:  # e.g. an unclosed "[" (the URL holds no secret)
            raise ValidationError(f"connect(): malformed URL {url!r}: {exc}") from None
        return MemoryTransport(named_broker(name))
    if scheme in ("amqp", "amqps"):
        from transports.rabbitmq import RabbitMQTransport

        return RabbitMQTransport.from_url(url)
    # the rest of the URL may hold credentials: never shown
    shown = f"scheme {scheme!r}" if "@" not in url and "/" not in head else "another scheme"
    raise ValidationError(
        f"connect() expects a memory://, amqp:// or amqps:// URL, got {shown}"
    )
