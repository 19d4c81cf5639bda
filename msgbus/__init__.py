"""msgbus: typed messaging over pluggable transports.

The core needs only the standard library; transports live in :mod:`transports`.
"""

from __future__ import annotations

from msgbus.application import (
    GenericApplication,
    GenericApplicationExchange,
    GenericApplicationProducer,
)
from msgbus.clock import Clock, ManualClock, SystemClock
from msgbus.codecs import DecodeError, EncodeError, Encoder, JsonEncoder, MsgpackEncoder
from msgbus.connect import connect, default_url
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
