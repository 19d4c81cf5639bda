"""A pika drop-in over the in-process memory broker.

``BlockingConnection(parameters=None, *, broker=None)`` offers pika 1.x's
``BlockingConnection`` / ``BlockingChannel`` API, returns pika's own frame and property
objects and raises pika's own exceptions with RabbitMQ's reply codes and texts.
``patch(broker=None)`` makes unmodified programs that call ``pika.BlockingConnection(...)``
run on the memory broker.
"""

from __future__ import annotations

from contrib.pika_compat._channel import BlockingChannel
from contrib.pika_compat._connection import BlockingConnection
from contrib.pika_compat._patch import patch

__all__ = ["BlockingChannel", "BlockingConnection", "patch"]
