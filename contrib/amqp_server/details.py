"""What the AMQP server knows of each client connection beyond the broker's own view
(peer address, client properties, negotiated limits, traffic counters): what RabbitMQ's
management API lists under ``/api/connections``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClientDetails"]


@dataclass(frozen=True, slots=True)
class ClientDetails:
    """One client connection of an :class:`~contrib.amqp_server.AmqpServer`.

    ``connection_id`` is the broker's id for it (``ConnectionSnapshot.id``); it is ``None``
    until the client has opened a vhost (``connection.open``).
    """

    connection_id: int | None
    name: str  # "127.0.0.1:54321 -> 127.0.0.1:5672", as RabbitMQ names connections
    peer_host: str
    peer_port: int
    host: str
    port: int
    user: str
    vhost: str
    auth_mechanism: str
    client_properties: dict[str, Any] = field(default_factory=dict)
    channel_max: int = 0
    frame_max: int = 0
    heartbeat: int = 0
    connected_at: int = 0  # milliseconds since the epoch
    state: str = "starting"  # starting, tuning, opening, running, blocked, closing
    recv_oct: int = 0
    send_oct: int = 0
    recv_cnt: int = 0
    send_cnt: int = 0
