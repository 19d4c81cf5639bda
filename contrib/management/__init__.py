"""RabbitMQ's management HTTP API, and a live web page, over an in-process broker.

``ManagementServer(broker, host="127.0.0.1", port=15672, amqp=None)`` serves the part of
RabbitMQ 3.10's management API that tools use (``rabbitmqadmin``, dashboards, test helpers
that purge or read queues over HTTP) with RabbitMQ's paths, JSON fields and status codes,
and at ``/`` a page that shows the broker as messages move. Needs the ``management`` extra
(aiohttp).
"""

from __future__ import annotations

from contrib.management.server import ManagementServer

__all__ = ["ManagementServer"]
