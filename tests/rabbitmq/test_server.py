"""The throwaway RabbitMQ node answers (so CI proves the server side really ran)."""

from __future__ import annotations

import pika
import pytest

pytestmark = pytest.mark.rabbitmq


def test_server_is_rabbitmq_3_10(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        props = connection._impl.server_properties
        assert props["product"] == b"RabbitMQ" or props["product"] == "RabbitMQ"
        version = props["version"]
        version = version.decode() if isinstance(version, bytes) else version
        assert version.startswith("3."), version
    finally:
        connection.close()
