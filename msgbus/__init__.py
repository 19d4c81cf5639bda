"""msgbus: typed messaging over pluggable transports.

The core needs only the standard library; transports live in :mod:`transports`. Names are
imported when first used (``import msgbus`` stays cheap for the command line and for
programs that need only part of it); ``from msgbus import X`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# ``connect`` is also the name of a submodule: importing it first keeps the function here
from msgbus.connect import connect, default_url
from msgbus.lazy import lazy_exports

if TYPE_CHECKING:
    from msgbus.application import (
        GenericApplication,
        GenericApplicationExchange,
        GenericApplicationProducer,
    )
    from msgbus.clock import Clock, ManualClock, SystemClock
    from msgbus.codecs import DecodeError, EncodeError, Encoder, JsonEncoder, MsgpackEncoder
    from msgbus.consumer import GenericConsumer
    from msgbus.errors import (
        AccessRefused,
        AMQPError,
        ChannelClosed,
        ConnectionClosed,
        ConnectionLost,
        MsgbusError,
        NotFound,
        PreconditionFailed,
        PublishBatchFailed,
        PublishNacked,
        ResourceLocked,
        TransportError,
        Unroutable,
        ValidationError,
    )
    from msgbus.exchanges import DefaultExchange, Exchange
    from msgbus.fingerprint import Fingerprint
    from msgbus.handlers import (
        Handler,
        MessageFilter,
        MessageHandler,
        MessageHandlerFullBody,
        RpcHandler,
    )
    from msgbus.messages import (
        InvalidMessage,
        Message,
        MessageCommand,
        MessageResult,
        MessageResultError,
        MessageResultException,
        MessageStatus,
        RpcCommand,
    )
    from msgbus.processor import MessageProcessor
    from msgbus.producer import GenericProducer
    from msgbus.recovery import (
        ConnectionEvent,
        ConnectionListener,
        ConnectionState,
        RecoveryPolicy,
    )
    from msgbus.rpc import PendingReply
    from msgbus.transport import ConsumerHandle, Transport
    from msgbus.values import (
        Delivery,
        DeliveryMode,
        ExchangeType,
        Properties,
        Publication,
        QueueInfo,
        ReturnedMessage,
    )

__version__ = "0.1.0"

__all__ = [
    "AMQPError",
    "AccessRefused",
    "ChannelClosed",
    "Clock",
    "ConnectionClosed",
    "ConnectionEvent",
    "ConnectionListener",
    "ConnectionLost",
    "ConnectionState",
    "ConsumerHandle",
    "DecodeError",
    "DefaultExchange",
    "Delivery",
    "DeliveryMode",
    "EncodeError",
    "Encoder",
    "Exchange",
    "ExchangeType",
    "Fingerprint",
    "GenericApplication",
    "GenericApplicationExchange",
    "GenericApplicationProducer",
    "GenericConsumer",
    "GenericProducer",
    "Handler",
    "InvalidMessage",
    "JsonEncoder",
    "ManualClock",
    "Message",
    "MessageCommand",
    "MessageFilter",
    "MessageHandler",
    "MessageHandlerFullBody",
    "MessageProcessor",
    "MessageResult",
    "MessageResultError",
    "MessageResultException",
    "MessageStatus",
    "MsgbusError",
    "MsgpackEncoder",
    "NotFound",
    "PendingReply",
    "PreconditionFailed",
    "Properties",
    "Publication",
    "PublishBatchFailed",
    "PublishNacked",
    "QueueInfo",
    "RecoveryPolicy",
    "ResourceLocked",
    "ReturnedMessage",
    "RpcCommand",
    "RpcHandler",
    "SystemClock",
    "Transport",
    "TransportError",
    "Unroutable",
    "ValidationError",
    "__version__",
    "connect",
    "default_url",
]

#: Where each public name lives.
_HOMES: dict[str, str] = {
    "AMQPError": "msgbus.errors",
    "AccessRefused": "msgbus.errors",
    "ChannelClosed": "msgbus.errors",
    "Clock": "msgbus.clock",
    "ConnectionClosed": "msgbus.errors",
    "ConnectionEvent": "msgbus.recovery",
    "ConnectionListener": "msgbus.recovery",
    "ConnectionLost": "msgbus.errors",
    "ConnectionState": "msgbus.recovery",
    "ConsumerHandle": "msgbus.transport",
    "DecodeError": "msgbus.codecs",
    "DefaultExchange": "msgbus.exchanges",
    "Delivery": "msgbus.values",
    "DeliveryMode": "msgbus.values",
    "EncodeError": "msgbus.codecs",
    "Encoder": "msgbus.codecs",
    "Exchange": "msgbus.exchanges",
    "ExchangeType": "msgbus.values",
    "Fingerprint": "msgbus.fingerprint",
    "GenericApplication": "msgbus.application",
    "GenericApplicationExchange": "msgbus.application",
    "GenericApplicationProducer": "msgbus.application",
    "GenericConsumer": "msgbus.consumer",
    "GenericProducer": "msgbus.producer",
    "Handler": "msgbus.handlers",
    "InvalidMessage": "msgbus.messages",
    "JsonEncoder": "msgbus.codecs",
    "ManualClock": "msgbus.clock",
    "Message": "msgbus.messages",
    "MessageCommand": "msgbus.messages",
    "MessageFilter": "msgbus.handlers",
    "MessageHandler": "msgbus.handlers",
    "MessageHandlerFullBody": "msgbus.handlers",
    "MessageProcessor": "msgbus.processor",
    "MessageResult": "msgbus.messages",
    "MessageResultError": "msgbus.messages",
    "MessageResultException": "msgbus.messages",
    "MessageStatus": "msgbus.messages",
    "MsgbusError": "msgbus.errors",
    "MsgpackEncoder": "msgbus.codecs",
    "NotFound": "msgbus.errors",
    "PendingReply": "msgbus.rpc",
    "PreconditionFailed": "msgbus.errors",
    "Properties": "msgbus.values",
    "Publication": "msgbus.values",
    "PublishBatchFailed": "msgbus.errors",
    "PublishNacked": "msgbus.errors",
    "QueueInfo": "msgbus.values",
    "RecoveryPolicy": "msgbus.recovery",
    "ResourceLocked": "msgbus.errors",
    "ReturnedMessage": "msgbus.values",
    "RpcCommand": "msgbus.messages",
    "RpcHandler": "msgbus.handlers",
    "SystemClock": "msgbus.clock",
    "Transport": "msgbus.transport",
    "TransportError": "msgbus.errors",
    "Unroutable": "msgbus.errors",
    "ValidationError": "msgbus.errors",
}


__getattr__, __dir__ = lazy_exports("msgbus", _HOMES, globals(), __all__)
