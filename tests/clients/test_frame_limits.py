"""How large a frame the server takes from a client. RabbitMQ 3.10 names ``frame_max - 8``
as the limit of a frame's payload (the frame's own 8 bytes make up the rest) but lets 8
bytes more through, for clients that split bodies at ``frame_max`` itself (amqpstorm does):
a body frame of exactly ``frame_max`` bytes is taken, one byte more closes the connection
with 501 FRAME_ERROR."""

from __future__ import annotations

from urllib.parse import urlsplit

import amqp
import amqp.exceptions
import pika
import pytest
from pika import frame, spec

from tests.clients.conftest import WAIT, Unique

FRAME_MAX = 131072  # the server's default, which py-amqp accepts


def _connect(url: str) -> amqp.Connection:
    parts = urlsplit(url)
    connection = amqp.Connection(host=f"{parts.hostname}:{parts.port}",
                                 userid=parts.username, password=parts.password,
                                 connect_timeout=WAIT, frame_max=FRAME_MAX)
    connection.connect()
    return connection


def _publish_in_one_body_frame(connection: amqp.Connection, channel: int, queue: str,
                               body: bytes) -> None:
    """A publish whose whole body travels in one frame, whatever its size."""
    frames = [frame.Method(channel, spec.Basic.Publish(exchange="", routing_key=queue)),
              frame.Header(channel, len(body), pika.BasicProperties()),
              frame.Body(channel, body)]
    connection.transport.write(b"".join(f.marshal() for f in frames))


@pytest.mark.parametrize("size", [FRAME_MAX - 8, FRAME_MAX])
def test_a_body_frame_of_up_to_frame_max_bytes_is_taken(server_url: str, unique: Unique,
                                                         size: int) -> None:
    queue = unique()
    connection = _connect(server_url)
    try:
        assert connection.frame_max == FRAME_MAX
        channel = connection.channel()
        channel.queue_declare(queue)
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        _publish_in_one_body_frame(connection, channel.channel_id, queue, body)
        message = channel.basic_get(queue, no_ack=True)  # after the publish, on its channel
        assert message is not None
        assert message.body == body
    finally:
        connection.close()


def test_one_byte_over_frame_max_closes_the_connection(server_url: str, unique: Unique
                                                       ) -> None:
    queue = unique()
    connection = _connect(server_url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue)
        _publish_in_one_body_frame(connection, channel.channel_id, queue,
                                   b"x" * (FRAME_MAX + 1))
        with pytest.raises(amqp.exceptions.FrameError) as error:
            connection.drain_events(timeout=WAIT)
        assert (error.value.reply_code, error.value.reply_text) == (
            501, f"FRAME_ERROR - type 3, all octets = <<>>: "
                 f"{{frame_too_large,{FRAME_MAX + 1},{FRAME_MAX - 8}}}")
    finally:
        connection.collect()
