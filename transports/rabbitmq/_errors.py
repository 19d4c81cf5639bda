"""pika's exceptions, translated into :mod:`msgbus.errors` — in this module only.

Every :class:`~transports.rabbitmq.RabbitMQTransport` method catches :data:`PIKA_ERRORS`
and raises what :func:`translate` returns, chained (``raise ... from exc``), so no pika
exception escapes the transport. Nothing here formats connection parameters: messages
carry the redacted URL only.
"""

from __future__ import annotations

import ssl

from pika import exceptions as px

from msgbus import errors

__all__ = [
    "CLIENT_FAULTS",
    "CONNECT_ERRORS",
    "PIKA_ERRORS",
    "is_channel_error",
    "is_connection_loss",
    "offset_unknown_tag",
    "translate",
]

#: Everything pika raises on purpose (its own hierarchy has three roots).
PIKA_ERRORS: tuple[type[Exception], ...] = (px.AMQPError, px.ChannelError, px.ReentrancyError)
#: What opening a connection raises: pika lets a failed TLS handshake through as it is.
CONNECT_ERRORS: tuple[type[Exception], ...] = (*PIKA_ERRORS, ssl.SSLError)


def is_channel_error(exc: BaseException) -> bool:
    """The broker closed the channel; the connection lives on."""
    return isinstance(exc, px.ChannelClosedByBroker)


#: The hard errors a client provokes by what it sends (a bad frame or method, a channel or
#: a virtual host it may not use): the broker closing the connection with one of these is
#: the answer to the call, raised once reconnected.
CLIENT_FAULTS = frozenset({402, 501, 502, 503, 504, 505, 506, 530, 540})


def is_connection_loss(exc: BaseException) -> bool:
    """The connection is gone, or going: what recovery should deal with.

    Every close by the broker counts — ``320 CONNECTION_FORCED`` (an operator, a node
    shutting down), ``541 INTERNAL_ERROR`` (a channel process that crashed, as when a
    queue leader on a cluster goes away) or any other code — except the hard errors of
    :data:`CLIENT_FAULTS`, which this client provoked and which are raised.
    """
    if isinstance(exc, px.ConnectionClosedByBroker):
        code: int = exc.reply_code
        return code not in CLIENT_FAULTS
    return isinstance(
        exc,
        (
            px.StreamLostError,
            px.AMQPHeartbeatTimeout,
            px.ConnectionWrongStateError,
            px.ConnectionClosedByClient,
            px.ConnectionOpenAborted,
            px.IncompatibleProtocolError,
        ),
    ) or type(exc) is px.AMQPConnectionError


_UNKNOWN_TAG = "PRECONDITION_FAILED - unknown delivery tag "


def offset_unknown_tag(reply_text: str, offset: int) -> str:
    """``reply_text`` with the delivery tag of an "unknown delivery tag" error shifted."""
    if reply_text.startswith(_UNKNOWN_TAG):
        number = reply_text[len(_UNKNOWN_TAG):]
        if number.isdigit():
            return f"{_UNKNOWN_TAG}{int(number) + offset}"
    return reply_text


def translate(
    exc: BaseException, where: str = "", target: tuple[str, str] = ("", "")
) -> errors.MsgbusError:
    """The msgbus error for a pika exception.

    ``where`` names the broker (redacted URL); ``target`` is the exchange and routing key
    of the publish that failed, for the errors that do not carry them.
    """
    suffix = f" ({where})" if where else ""
    if isinstance(exc, ssl.SSLError):
        return errors.ConnectionLost(f"TLS handshake failed{suffix}: {exc}")
    if isinstance(exc, (px.ChannelClosedByBroker, px.ConnectionClosedByBroker)):
        return errors.error_for_reply(exc.reply_code, exc.reply_text)
    if isinstance(exc, px.UnroutableError):
        returned = exc.messages[0].method
        return errors.Unroutable(
            returned.exchange, returned.routing_key, returned.reply_code, returned.reply_text
        )
    if isinstance(exc, px.NackError):
        if exc.messages:
            method = exc.messages[0].method
            return errors.PublishNacked(method.exchange, method.routing_key)
        return errors.PublishNacked(*target)
    if isinstance(exc, px.UnsupportedAMQPFieldException):
        value = exc.args[-1] if exc.args else None
        return errors.ValidationError(
            f"a header or argument table holds {value!r} of type {type(value).__name__}, "
            "which AMQP tables cannot carry (use str, bytes, bool, int, None, list or dict)"
        )
    if isinstance(exc, (px.ProbableAuthenticationError, px.AuthenticationError)):
        return errors.AccessRefused(
            f"ACCESS_REFUSED - login refused: check the user name and password{suffix}"
        )
    if isinstance(exc, px.ProbableAccessDeniedError):
        return errors.NotAllowed(f"NOT_ALLOWED - access to the virtual host refused{suffix}")
    if isinstance(exc, px.ConnectionBlockedTimeout):
        return errors.DeliveryTimeout(f"the broker blocked the connection for too long{suffix}")
    if isinstance(exc, px.DuplicateConsumerTag):
        return errors.ValidationError(f"consumer tag {exc.args[0]!r} is already in use")
    if isinstance(exc, px.ChannelClosed):
        return errors.ChannelClosed(f"channel closed: {exc.reply_text}", exc.reply_code)
    if isinstance(exc, px.ChannelWrongStateError):
        return errors.ChannelClosed("the channel is closed", 504)
    if isinstance(exc, px.AMQPConnectionError):
        detail = type(exc).__name__
        if exc.args:
            detail = f"{detail}: {exc.args[0]!r}"
        return errors.ConnectionLost(f"connection to the broker lost{suffix}: {detail}")
    return errors.TransportError(f"{type(exc).__name__} from pika{suffix}")
