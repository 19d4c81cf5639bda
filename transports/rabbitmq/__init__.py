"""The RabbitMQ transport: msgbus's :class:`~msgbus.transport.Transport` on pika.

``RabbitMQTransport.from_url("amqp://user:password@host:5672/%2F")`` connects;
:mod:`transports.rabbitmq.url` describes the URL forms (TLS, failover hosts, options) and
:mod:`transports.rabbitmq.transport` the semantics (confirms, recovery, threading).
"""

from __future__ import annotations

from msgbus.recovery import (
    ConnectionEvent,
    ConnectionListener,
    ConnectionState,
    RecoveryPolicy,
)
from transports.rabbitmq.transport import RabbitMQTransport
from transports.rabbitmq.url import ConnectionConfig, HostPort, TLSOptions, parse_url

__all__ = [
    "ConnectionConfig",
    "ConnectionEvent",
    "ConnectionListener",
    "ConnectionState",
    "HostPort",
    "RabbitMQTransport",
    "RecoveryPolicy",
    "TLSOptions",
    "parse_url",
]
