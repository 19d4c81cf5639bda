"""One error hierarchy for every transport.

AMQP reply codes map to classes the way pamqp does it: *soft* errors close the channel
(:class:`ChannelClosed` and its subclasses), *hard* errors close the connection
(:class:`ConnectionClosed` and its subclasses). Every such error carries the numeric
``reply_code`` and the broker's ``reply_text``, e.g.
``NOT_FOUND - no queue 'jobs' in vhost '/'``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from msgbus.values import Publication

__all__ = [
    "AMQPError",
    "AMQPNotImplemented",
    "AMQPSyntaxError",
    "AccessRefused",
    "ChannelClosed",
    "ChannelErrorReply",
    "CommandInvalid",
    "ConnectionClosed",
    "ConnectionForced",
    "ConnectionLost",
    "DeliveryTimeout",
    "FrameError",
    "InternalError",
    "InvalidPath",
    "MsgbusError",
    "NotAllowed",
    "NotFound",
    "PreconditionFailed",
    "PublishBatchFailed",
    "PublishNacked",
    "ResourceError",
    "ResourceLocked",
    "TransportError",
    "UnexpectedFrame",
    "Unroutable",
    "ValidationError",
    "error_for_reply",
]


class MsgbusError(Exception):
    """Base of every error msgbus raises on purpose.

    Every one survives ``pickle`` and ``copy``: it is rebuilt from its ``args`` and its
    attributes without calling ``__init__`` again (whose parameters differ from ``args``
    in several subclasses), so errors cross process boundaries (worker pools, test runners).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args), self.__dict__ or None


class ValidationError(MsgbusError, ValueError):
    """Bad input caught on the client side, before anything was sent."""


class TransportError(MsgbusError):
    """Something went wrong talking to a broker."""


class ConnectionLost(TransportError, builtins.ConnectionError):
    """The connection to the broker dropped (socket closed, node stopped, ...)."""


class DeliveryTimeout(TransportError, builtins.TimeoutError):
    """A blocking operation did not complete in time."""


class Unroutable(TransportError):
    """A ``mandatory`` publish was returned by the broker: no queue was bound for it."""

    def __init__(self, exchange: str, routing_key: str, reply_code: int = 312,
                 reply_text: str = "NO_ROUTE") -> None:
        super().__init__(
            f"message published to exchange {exchange!r} with routing key {routing_key!r} "
            f"was returned: {reply_code} {reply_text}"
        )
        self.exchange = exchange
        self.routing_key = routing_key
        self.reply_code = reply_code
        self.reply_text = reply_text


class PublishNacked(TransportError):
    """The broker refused a publish under publisher confirms (basic.nack)."""

    def __init__(self, exchange: str, routing_key: str) -> None:
        super().__init__(
            f"broker nacked the message published to exchange {exchange!r} "
            f"with routing key {routing_key!r}"
        )
        self.exchange = exchange
        self.routing_key = routing_key


class PublishBatchFailed(TransportError):
    """Some messages of a ``publish_batch`` are not known to have reached the broker.

    ``failed`` lists them, in batch order, as ``(index, publication, error)``: the error is
    what ``publish`` would have raised for that message alone — :class:`PublishNacked`,
    :class:`Unroutable`, the channel error that closed the channel (for the message that
    caused it, every later one, which the broker dropped, and the earlier ones whose
    confirms the closing channel never sent), or :class:`ConnectionLost`. Every other
    message of the batch was confirmed. Publish the failed ones again if they must arrive
    (the earlier ones of a channel error, and those of a lost connection, may arrive twice).
    """

    def __init__(self, failed: list[tuple[int, Publication, MsgbusError]], total: int) -> None:
        first = failed[0][2]
        super().__init__(
            f"{len(failed)} of the {total} messages of the batch were not confirmed "
            f"(the first, #{failed[0][0]}: {first})"
        )
        self.failed = failed
        self.total = total


class AMQPError(TransportError):
    """An error the broker reported with an AMQP reply code and text."""

    reply_code: int = 0
    name: ClassVar[str] = ""

    def __init__(self, reply_text: str, reply_code: int | None = None) -> None:
        if reply_code is not None:
            self.reply_code = reply_code
        super().__init__(f"({self.reply_code}) {reply_text}")
        self.reply_text = reply_text


class ChannelClosed(AMQPError):
    """A soft error: the broker closed the channel, the connection lives on."""


class ConnectionClosed(AMQPError):
    """A hard error: the broker closed the whole connection."""


class AccessRefused(ChannelClosed):
    """403 ACCESS_REFUSED: the operation is not allowed (reserved name, exclusive consumer)."""

    reply_code = 403
    name = "ACCESS_REFUSED"


class NotFound(ChannelClosed):
    """404 NOT_FOUND: no such exchange or queue."""

    reply_code = 404
    name = "NOT_FOUND"


class ResourceLocked(ChannelClosed):
    """405 RESOURCE_LOCKED: the queue is exclusive to another connection."""

    reply_code = 405
    name = "RESOURCE_LOCKED"


class PreconditionFailed(ChannelClosed):
    """406 PRECONDITION_FAILED: inequivalent arguments, unknown delivery tag, ..."""

    reply_code = 406
    name = "PRECONDITION_FAILED"


class ConnectionForced(ConnectionClosed):
    """320 CONNECTION_FORCED: an operator closed the connection or the node stopped."""

    reply_code = 320
    name = "CONNECTION_FORCED"


class InvalidPath(ConnectionClosed):
    """402 INVALID_PATH: no such virtual host."""

    reply_code = 402
    name = "INVALID_PATH"


class FrameError(ConnectionClosed):
    """501 FRAME_ERROR."""

    reply_code = 501
    name = "FRAME_ERROR"


class AMQPSyntaxError(ConnectionClosed):
    """502 SYNTAX_ERROR."""

    reply_code = 502
    name = "SYNTAX_ERROR"


class CommandInvalid(ConnectionClosed):
    """503 COMMAND_INVALID: e.g. an unknown exchange type."""

    reply_code = 503
    name = "COMMAND_INVALID"


class ChannelErrorReply(ConnectionClosed):
    """504 CHANNEL_ERROR: a method on a channel that is not open."""

    reply_code = 504
    name = "CHANNEL_ERROR"


class UnexpectedFrame(ConnectionClosed):
    """505 UNEXPECTED_FRAME."""

    reply_code = 505
    name = "UNEXPECTED_FRAME"


class ResourceError(ConnectionClosed):
    """506 RESOURCE_ERROR."""

    reply_code = 506
    name = "RESOURCE_ERROR"


class NotAllowed(ConnectionClosed):
    """530 NOT_ALLOWED: e.g. access to a virtual host refused."""

    reply_code = 530
    name = "NOT_ALLOWED"


class AMQPNotImplemented(ConnectionClosed):
    """540 NOT_IMPLEMENTED."""

    reply_code = 540
    name = "NOT_IMPLEMENTED"


class InternalError(ConnectionClosed):
    """541 INTERNAL_ERROR."""

    reply_code = 541
    name = "INTERNAL_ERROR"


_BY_CODE: dict[int, type[AMQPError]] = {
    cls.reply_code: cls
    for cls in (
        AccessRefused, NotFound, ResourceLocked, PreconditionFailed, ConnectionForced,
        InvalidPath, FrameError, AMQPSyntaxError, CommandInvalid, ChannelErrorReply,
        UnexpectedFrame, ResourceError, NotAllowed, AMQPNotImplemented, InternalError,
    )
}


def _rebuild(cls: type[MsgbusError], args: tuple[Any, ...]) -> MsgbusError:
    """An error of class ``cls`` with ``args``, without its ``__init__`` (see MsgbusError)."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


def error_for_reply(reply_code: int, reply_text: str) -> AMQPError:
    """The error instance for a broker's close reply (unknown codes map by range)."""
    cls = _BY_CODE.get(reply_code)
    if cls is None:
        base = ConnectionClosed if reply_code == 320 or reply_code >= 500 else ChannelClosed
        return base(reply_text, reply_code)
    return cls(reply_text)
