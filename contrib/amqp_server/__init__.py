"""The in-process broker served over AMQP 0-9-1, for any client in any language.

``AmqpServer(broker)`` listens on 127.0.0.1:5672 (``port=0``: a free port) and speaks the
protocol as RabbitMQ 3.10 does: pika, aio-pika, FastStream, kombu/py-amqp, Celery or Node's
amqplib use the broker as they would use RabbitMQ. ``msgbus serve`` runs one in the
foreground; the pytest plugin's ``msgbus_amqp_url`` fixture gives a test one on its own
broker. Frames are decoded and encoded with pika's codec.
"""

from __future__ import annotations

from contrib.amqp_server.details import ClientDetails
from contrib.amqp_server.server import AmqpServer

__all__ = ["AmqpServer", "ClientDetails"]
