"""The broker's state objects (sans-IO): vhosts, exchanges, queues, connections, channels,
consumers, and the events the core hands to a connection for its client."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from msgbus.values import Properties, ReturnedMessage
from transports.memory.queue import Message, QueuedMessage, QueueStore

if TYPE_CHECKING:
    from transports.memory.grants import Grant

__all__ = [
    "ChannelState",
    "ConnectionState",
    "ConsumerCancelled",
    "ConsumerState",
    "Deliver",
    "DeliverMany",
    "Destination",
    "ExchangeState",
    "OutboxEvent",
    "PublishConfirm",
    "QueueState",
    "Return",
    "VHostState",
]

#: A binding's destination, as the routing module sees it: ("queue" | "exchange", name).
Destination = tuple[str, str]


class ExchangeState:
    __slots__ = ("arguments", "auto_delete", "durable", "internal", "name", "router", "type")

    def __init__(self, name: str, type: str, router: Any, *, durable: bool, auto_delete: bool,
                 internal: bool, arguments: Mapping[str, Any]) -> None:
        self.name = name
        self.type = type
        self.router = router
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = dict(arguments)


class QueueState:
    __slots__ = (
        "arguments", "auto_delete", "consumers", "dead_letter_exchange",
        "dead_letter_routing_key", "delivery_counts", "durable", "expires_ms", "had_consumer",
        "last_used", "limited", "max_bytes", "max_length", "message_ttl", "name", "overflow",
        "owner", "queue_type", "single_active", "store", "vhost",
    )

    def __init__(self, vhost: str, name: str, *, durable: bool, owner: int | None,
                 auto_delete: bool, arguments: Mapping[str, Any], now: float,
                 queue_type: str = "classic") -> None:
        self.vhost = vhost
        self.name = name
        self.queue_type = queue_type  # classic, quorum or stream
        # a quorum queue's returned messages: sequence number -> x-delivery-count
        self.delivery_counts: dict[int, int] = {}
        self.durable = durable
        self.owner = owner
        self.auto_delete = auto_delete
        self.arguments = dict(arguments)
        self.store = QueueStore(arguments)
        self.consumers: list[ConsumerState] = []
        self.had_consumer = False
        self.last_used = now
        self.message_ttl: int | None = _int(arguments, "x-message-ttl")
        self.expires_ms: int | None = _int(arguments, "x-expires")
        self.max_length: int | None = _int(arguments, "x-max-length")
        self.max_bytes: int | None = _int(arguments, "x-max-length-bytes")
        self.limited = self.max_length is not None or self.max_bytes is not None
        # x-single-active-consumer: only the earliest registered consumer gets messages
        self.single_active = arguments.get("x-single-active-consumer") is True
        overflow = arguments.get("x-overflow", "drop-head")
        self.overflow = overflow.decode() if isinstance(overflow, bytes) else str(overflow)
        if queue_type == "quorum" and self.overflow == "reject-publish-dlx":
            self.overflow = "drop-head"  # a quorum queue does not know it: its default applies
        dlx = arguments.get("x-dead-letter-exchange")
        self.dead_letter_exchange: str | None = (
            dlx.decode() if isinstance(dlx, bytes) else dlx if isinstance(dlx, str) else None
        )
        dlrk = arguments.get("x-dead-letter-routing-key")
        self.dead_letter_routing_key: str | None = (
            dlrk.decode() if isinstance(dlrk, bytes) else dlrk if isinstance(dlrk, str) else None
        )

    @property
    def exclusive(self) -> bool:
        return self.owner is not None

    def over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        if self.max_length is not None and len(self.store) + extra_count > self.max_length:
            return True
        return self.max_bytes is not None and self.store.bytes + extra_bytes > self.max_bytes


def _int(arguments: Mapping[str, Any], key: str) -> int | None:
    value = arguments.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ConsumerState:
    __slots__ = ("arguments", "blocked", "channel", "exclusive", "no_ack", "prefetch", "priority",
                 "queue", "tag", "unacked")

    def __init__(self, tag: str, channel: ChannelState, queue: QueueState, *, no_ack: bool,
                 exclusive: bool, prefetch: int, arguments: Mapping[str, Any]) -> None:
        self.tag = tag
        self.channel = channel
        self.queue = queue
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.prefetch = prefetch
        self.arguments = dict(arguments)
        priority = arguments.get("x-priority", 0)
        self.priority = priority if isinstance(priority, int) else 0
        self.unacked = 0
        # RabbitMQ takes a consumer out of its queue's round robin when a delivery to it was
        # tried while its prefetch was full; it rejoins at the end once it has room again
        self.blocked = False

    def room(self, wanted: int) -> int:
        """How many of ``wanted`` more deliveries its prefetch limits let it take now.

        A channel's global prefetch stops even an auto-ack consumer once the channel's
        count has reached it (RabbitMQ asks the channel's limiter before every delivery),
        though auto-ack deliveries do not add to that count."""
        channel = self.channel
        if self.no_ack:
            if channel.global_prefetch and (channel.global_room() <= 0
                                            or self.queue in channel.suspended):
                return 0
            return wanted
        if self.prefetch:
            wanted = min(wanted, self.prefetch - self.unacked)
        if channel.global_prefetch:
            if self.queue in channel.suspended:
                return 0
            wanted = min(wanted, channel.global_room())
        return max(wanted, 0)

    def has_capacity(self) -> bool:
        return self.room(1) > 0

    def own_room(self) -> bool:
        """Whether its own prefetch (not the channel's global one) lets it take one more."""
        return self.no_ack or not self.prefetch or self.unacked < self.prefetch


class ChannelState:
    __slots__ = ("blocked", "confirm", "connection", "consumers", "counted_unacked",
                 "global_prefetch", "global_uncounted", "id", "last_queue", "next_publish_seq",
                 "next_tag", "open", "prefetch", "reply_consumer", "reply_token", "suspended",
                 "tx_acks", "tx_publishes", "unacked")

    def __init__(self, connection: ConnectionState, channel_id: int) -> None:
        self.connection = connection
        self.id = channel_id
        self.open = True
        self.next_tag = 1
        # unacknowledged deliveries by delivery tag, in delivery order
        self.unacked: dict[int, QueuedMessage] = {}
        self.counted_unacked = 0  # unacked deliveries to consumers (what global prefetch counts)
        self.consumers: dict[str, ConsumerState] = {}
        self.blocked: list[ConsumerState] = []  # blocked consumers, in the order they blocked
        self.prefetch = 0
        self.global_prefetch = 0
        # what RabbitMQ's channel limiter counts beyond ``counted_unacked``: when a global
        # prefetch is set on an unlimited channel, its count starts at all its unacked
        # deliveries, basic.get's included, whose acknowledgements never lower it
        self.global_uncounted = 0
        # the queues whose delivery the global prefetch refused: RabbitMQ's queue then asks
        # the channel's limiter no more, and delivers to none of the channel's consumers,
        # until the limiter tells it to resume (once the channel is below its limit)
        self.suspended: set[QueueState] = set()
        self.confirm = False
        self.next_publish_seq = 1
        self.reply_consumer: str | None = None  # consumer tag on amq.rabbitmq.reply-to
        self.reply_token: str | None = None
        # the queue last declared on this channel: what an empty queue name stands for
        self.last_queue = ""
        # in tx mode (tx.select): publishes and acknowledgements waiting for tx.commit
        self.tx_publishes: list[tuple[str, str, bytes, Properties, bool]] | None = None
        self.tx_acks: list[tuple[list[QueuedMessage], bool | None]] | None = None

    def global_room(self) -> int:
        """How many more deliveries the channel's global prefetch allows."""
        return self.global_prefetch - self.counted_unacked - self.global_uncounted

    def resume(self) -> None:
        """The channel's limiter lets its suspended queues go on, if it is below its limit."""
        if self.suspended and (not self.global_prefetch or self.global_room() > 0):
            self.suspended.clear()


class ConnectionState:
    __slots__ = ("channels", "grant", "id", "name", "next_channel", "open", "outbox", "user",
                 "vhost")

    def __init__(self, connection_id: int, vhost: str, user: str, name: str, grant: Grant
                 ) -> None:
        self.id = connection_id
        self.vhost = vhost
        self.user = user
        self.grant = grant  # the user's permissions in the vhost, changed in place
        self.name = name
        self.open = True
        self.channels: dict[int, ChannelState] = {}
        self.next_channel = 1
        self.outbox: deque[OutboxEvent] = deque()


class VHostState:
    __slots__ = ("bound_sources", "exchanges", "name", "queues")

    def __init__(self, name: str) -> None:
        self.name = name
        self.exchanges: dict[str, ExchangeState] = {}
        self.queues: dict[str, QueueState] = {}
        # destination -> names of the exchanges it is bound to
        self.bound_sources: dict[Destination, set[str]] = {}


class Deliver(NamedTuple):
    """basic.deliver to a consumer (the client makes its own delivery value of it)."""

    channel: int
    consumer_tag: str
    delivery_tag: int
    redelivered: bool
    message: Message


class DeliverMany(NamedTuple):
    """basic.deliver of several messages in a row to one consumer, with delivery tags
    ``first_tag``, ``first_tag + 1``, ... (one event instead of one per message)."""

    channel: int
    consumer_tag: str
    first_tag: int
    messages: Sequence[Message]
    redelivered: Sequence[bool]

class Return(NamedTuple):
    """basic.return of an unroutable mandatory message."""

    channel: int
    message: ReturnedMessage


class PublishConfirm(NamedTuple):
    """basic.ack (``ack``) or basic.nack for a publish in confirm mode."""

    channel: int
    delivery_tag: int
    ack: bool
    multiple: bool = False


class ConsumerCancelled(NamedTuple):
    """basic.cancel from the broker (the consumer's queue was deleted)."""

    channel: int
    consumer_tag: str


OutboxEvent = Deliver | DeliverMany | Return | PublishConfirm | ConsumerCancelled
