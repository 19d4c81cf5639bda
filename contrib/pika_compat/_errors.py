"""msgbus errors → the pika exceptions a program written for pika expects."""

from __future__ import annotations

from pika import exceptions

from msgbus.errors import AMQPError, ConnectionClosed

__all__ = ["CHANNEL_CLOSED", "FRAME_ON_CLOSED_CONNECTION", "to_pika_error"]

#: What pika says when a method is called on a closed channel.
CHANNEL_CLOSED = "Channel is closed."
#: What pika says when a method that skips the channel's state check (basic_get) is
#: called once the connection is closed.
FRAME_ON_CLOSED_CONNECTION = "Attempted to send a frame on closed connection."


def to_pika_error(
    error: AMQPError,
) -> exceptions.ChannelClosedByBroker | exceptions.ConnectionClosedByBroker:
    """The pika exception for a broker's channel or connection close."""
    if isinstance(error, ConnectionClosed):
        return exceptions.ConnectionClosedByBroker(error.reply_code, error.reply_text)
    return exceptions.ChannelClosedByBroker(error.reply_code, error.reply_text)
