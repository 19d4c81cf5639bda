"""``GenericProducer``: a component's outgoing API, as ``message_<name>`` and ``rpc_<name>``.

::

    class Logging(GenericProducer):
        eks = [(LoggingExchange, "log")]

        def build_message_online(self):
            return MessageStatus("online")

    producer = Logging(Fingerprint("billing", "worker"), transport=transport)
    producer.message_online()                       # built by build_message_online
    producer.message_echo("hi", level=2)            # no builder: command "echo"
    producer.message_echo("hi", _key="other-key")   # first exchange of eks, another key
    producer.message_echo("hi", _eks=[(Other, "k")])  # these instead of eks (_key ignored)
    reply = producer.rpc_add(2, 3, _timeout=5, _max_retry=1)
    if reply:
        print(reply.value)

Without a builder, ``message_<name>(*args, **kwargs)`` sends ``MessageCommand(name,
{"args": [...], "kwargs": {...}})`` and ``rpc_<name>`` the same as an :class:`RpcCommand`.

A producer made with ``postage_compatible=True`` (or whose class sets it) talks to
Postage 1.x components as a Postage producer does (``docs/wire-format.md``): a command
without a builder takes one value, sent as its parameters (``message_echo("hi")`` sends
``{"parameters": "hi"}``; ``message_echo(parameters=...)`` too; none sends ``{}``),
``message(*args, **kwargs)`` sends ``{"args": [...], "kwds": {...}}``, and each RPC
attempt gets its own exclusive reply queue, so that replies without a correlation id
(which Postage 1.x servers send) are accepted.
Every message gets the producer's fingerprint. An RPC goes to the first (exchange, key)
only; it returns a :class:`~msgbus.messages.MessageResult` (or an error/exception result,
which is falsy). ``start_rpc_<name>(...)`` publishes and returns the
:class:`~msgbus.rpc.PendingReply` at once, for callers that drive the transport
themselves. ``rpc_<name>(..., _queue_only=True)`` returns the name of a private queue the
reply will be put in, instead of waiting.

Publishing many messages: inside ``with producer.batch():`` the messages sent on that
thread are collected and published together (``Transport.publish_batch``), so that with
publisher confirms they are confirmed together rather than one round trip each::

    with producer.batch():
        for order in orders:
            producer.message_order(order)

A producer may be used from several threads: its transport is used under one lock.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

from msgbus.checks import require_instance
from msgbus.clock import Clock, SystemClock
from msgbus.codecs import Encoder, JsonEncoder
from msgbus.connect import connect
from msgbus.errors import ValidationError
from msgbus.exchanges import Exchange
from msgbus.fingerprint import Fingerprint, fingerprint_dict
from msgbus.messages import WIRE_VERSION, Message, MessageCommand, MessageResult, RpcCommand
from msgbus.rpc import PendingReply, RpcClient
from msgbus.transport import Transport
from msgbus.values import DeliveryMode, Properties, Publication

__all__ = ["EKS", "GenericProducer", "require_eks"]

EKS: TypeAlias = "Sequence[tuple[type[Exchange], str]]"
_TAIL = b'},"_reserved":{}}'  # what follows a command's parameters in JSON
_NULL_TAIL = b"null" + _TAIL


class _Batching(threading.local):
    """A thread's open ``batch()``: the messages collected, and how many make a batch."""

    pending: list[Publication] | None = None
    size = 0


class GenericProducer:
    """Builds, encodes and publishes messages to the exchanges and keys of ``eks``."""

    eks: ClassVar[EKS] = ()
    encoder_class: ClassVar[type[Encoder]] = JsonEncoder
    #: Seconds an RPC attempt waits for its reply (``_timeout``).
    rpc_timeout: ClassVar[float] = 5.0
    #: How many times an RPC is sent again after a timeout (``_max_retry``): with the
    #: defaults a call nobody answers ends after 10 s, with a WARNING at each timeout.
    max_retry: ClassVar[int] = 1
    #: Publish with delivery mode 2, so messages in durable queues survive a restart.
    persistent: ClassVar[bool] = False
    #: Speak as a Postage 1.x producer (the constructor's ``postage_compatible`` overrides).
    postage_compatible: bool = False
    _default_eks: list[tuple[type[Exchange], str]] | None = None
    #: Whether message_<name> and rpc_<name> without a builder may skip the Message
    #: object (False when a subclass overrides a method they would go through).
    _plain: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain = all(
            getattr(cls, method) is getattr(GenericProducer, method)
            for method in ("build", "send", "rpc", "start_rpc")
        )

    def __init__(
        self,
        fingerprint: Fingerprint | Mapping[str, Any] | None = None,
        *,
        transport: Transport | None = None,
        encoder: Encoder | None = None,
        clock: Clock | None = None,
        postage_compatible: bool | None = None,
    ) -> None:
        if postage_compatible is not None:
            if not isinstance(postage_compatible, bool):
                raise ValidationError(
                    f"postage_compatible must be True or False, got {_short(postage_compatible)}")
            self.postage_compatible = postage_compatible
        self._owns_transport = transport is None
        self.transport: Transport = connect() if transport is None else require_instance(
            "transport", transport, Transport, "a msgbus Transport (e.g. msgbus.connect(url))")
        self.encoder: Encoder = self.encoder_class() if encoder is None else require_instance(
            "encoder", encoder, Encoder, "an encoder with content_type, encode and decode")
        if clock is not None and not (callable(getattr(clock, "monotonic", None))
                                      and callable(getattr(clock, "time", None))):
            raise ValidationError(
                f"clock must have monotonic() and time() (e.g. msgbus.clock.ManualClock), "
                f"got {type(clock).__name__}: {_short(clock)}")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.fingerprint: dict[str, Any] = fingerprint_dict(fingerprint, self.transport.vhost)
        self._lock = threading.RLock()
        self._batching = _Batching()
        self._declared: set[type[Exchange]] = set()
        self._prefixes: dict[tuple[str, str], bytes] = {}  # see _encode_command
        self._prefixes_for: dict[str, Any] | None = None
        self._properties = Properties(
            content_type=self.encoder.content_type,
            delivery_mode=DeliveryMode.PERSISTENT if self.persistent else None,
        )
        self.rpc_client = RpcClient(
            self.transport,
            encoder=self.encoder,
            clock=self.clock,
            lock=self._lock,
            persistent=self.persistent,
            reply_queue_per_call=self.postage_compatible,
        )
        if self.eks:
            for exchange, _key in require_eks(self.eks, f"{type(self).__name__}.eks"):
                self._declare(exchange)

    # -- magic methods -----------------------------------------------------------------

    def __getattr__(self, attr: str) -> Callable[..., Any]:
        if attr.startswith("_"):
            raise AttributeError(attr)
        for prefix, method in (
            ("message_", self._send_named),
            ("rpc_", self._rpc_named),
            ("start_rpc_", self._start_rpc_named),
        ):
            if attr.startswith(prefix) and len(attr) > len(prefix):
                bound = functools.partial(method, attr[len(prefix) :])
                self.__dict__[attr] = bound  # found directly next time
                return bound
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {attr!r} (a producer answers "
            "message_<name>, rpc_<name> and start_rpc_<name>)"
        )

    # -- building ----------------------------------------------------------------------

    def build(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Message:
        """The message ``message_<name>`` (``kind="message"``) or ``rpc_<name>`` sends."""
        builder = _builder(type(self), kind, name)
        if builder is not None:
            built = builder(self, *args, **kwargs)
            if not isinstance(built, Message):
                raise ValidationError(
                    f"{type(self).__name__}.build_{kind}_{name} must return a Message, "
                    f"got {type(built).__name__} {built!r}"
                )
            message = built
            if kind == "rpc" and message.category != "rpc":
                raise ValidationError(
                    f"{type(self).__name__}.build_rpc_{name} must return an RPC message "
                    f"(category 'rpc', e.g. an RpcCommand), got category {message.category!r}"
                )
        else:
            command_cls = RpcCommand if kind == "rpc" else MessageCommand
            message = command_cls(name, self.parameters(kind, name, args, kwargs))
        message.body["fingerprint"].update(self.fingerprint)
        return message

    def _encode_command(
        self, kind: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> bytes:
        """The encoded body of the command ``message_<name>``/``rpc_<name>`` sends without
        a builder.

        With :class:`JsonEncoder` the part before the parameters is encoded once per kind
        and name (again when the producer's fingerprint changes), and only the parameters
        for each message: the bytes are those of encoding the whole body.
        """
        encoder = self.encoder
        if type(encoder) is not JsonEncoder:
            return encoder.encode(self._command_body(kind, name, args, kwargs))
        if self.fingerprint != self._prefixes_for:
            self._prefixes.clear()
            snapshot = dict(self.fingerprint)
            plain = all(type(value) is str or value is None for value in snapshot.values())
            self._prefixes_for = snapshot if plain else None  # else it may change inside
        prefix = self._prefixes.get((kind, name))
        if prefix is None:
            body = self._command_body(kind, name, (), {})
            body["content"] = {"parameters": None}
            whole = encoder.encode(body)
            if not whole.endswith(_NULL_TAIL):  # an encoder that orders keys otherwise
                return encoder.encode(self._command_body(kind, name, args, kwargs))
            prefix = whole[: -len(_NULL_TAIL)]
            if self._prefixes_for is not None and len(self._prefixes) < 1_000:
                self._prefixes[(kind, name)] = prefix
        parameters = encoder.encode(self.parameters(kind, name, args, kwargs))
        return b"".join((prefix, parameters, _TAIL))

    def _command_body(
        self, kind: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The body of the command ``message_<name>``/``rpc_<name>`` sends without a builder.

        Its fingerprint is the producer's own dictionary, not a copy: for a body that is
        encoded at once and dropped.
        """
        return {
            "type": "command",
            "name": name,
            "category": "rpc" if kind == "rpc" else "message",
            "version": WIRE_VERSION,
            "fingerprint": self.fingerprint,
            "content": {"parameters": self.parameters(kind, name, args, kwargs)},
            "_reserved": {},
        }

    def parameters(
        self, kind: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The parameters of the command ``message_<name>``/``rpc_<name>`` sends without a
        builder: ``{"args": [...], "kwargs": {...}}``, or as Postage 1.x sends them when
        :attr:`postage_compatible` (one value: the only positional argument, the
        ``parameters`` keyword, or ``{}``)."""
        if not self.postage_compatible:
            return {"args": list(args), "kwargs": kwargs}
        if len(args) + len(kwargs) > 1 or (kwargs and "parameters" not in kwargs):
            raise ValidationError(
                f"{kind}_{name}: a Postage 1.x command takes one value, its parameters "
                f"({kind}_{name}(value) or {kind}_{name}(parameters=value)), got "
                f"{len(args)} positional argument(s) and keywords {sorted(kwargs)}")
        if args:
            return args[0]
        return kwargs.get("parameters", {})

    def resolve_eks(
        self, _key: str | None = None, _eks: EKS | None = None
    ) -> list[tuple[type[Exchange], str]]:
        """Where a message goes: ``_eks`` if given, else ``eks`` (with ``_key`` if given)."""
        if _eks is not None:
            eks = require_eks(_eks, "_eks")
            if not eks:
                raise ValidationError(f"{type(self).__name__}: _eks is empty")
            return eks
        if not self.eks:
            raise ValidationError(
                f"{type(self).__name__} has no eks: set the class attribute "
                "eks = [(ExchangeClass, routing_key)] or pass _eks=[...]"
            )
        if self._default_eks is None:
            self._default_eks = require_eks(self.eks, f"{type(self).__name__}.eks")
        if _key is not None:
            if not isinstance(_key, str):
                raise ValidationError(
                    f"_key must be a str (a routing key), got {type(_key).__name__}: "
                    f"{_short(_key)}")
            return [(self._default_eks[0][0], _key)]
        return self._default_eks

    # -- sending -----------------------------------------------------------------------

    def send(
        self, message: Message, *, _key: str | None = None, _eks: EKS | None = None
    ) -> None:
        """Publish ``message`` (its fingerprint as it is) to every (exchange, key)."""
        self.forward(message.body, _key=_key, _eks=_eks)

    def forward(
        self, body: Mapping[str, Any], *, _key: str | None = None, _eks: EKS | None = None
    ) -> None:
        """Publish a message's dictionary form as it is (e.g. one received elsewhere)."""
        self._publish(self.encoder.encode(body), _key, _eks)

    def _publish(self, data: bytes, _key: str | None, _eks: EKS | None) -> None:
        if _key is None and _eks is None and self._default_eks is not None:
            eks = self._default_eks
        else:
            eks = self.resolve_eks(_key, _eks)
        declared, publish, properties = self._declared, self.transport.publish, self._properties
        pending = self._batching.pending  # inside batch(): collected, not published
        with self._lock:
            for exchange, key in eks:
                if exchange not in declared:
                    self._declare(exchange)
                if pending is None:
                    publish(exchange.name, key, data, properties)
                else:
                    pending.append(Publication(exchange.name, key, data, properties))
        if pending is not None and len(pending) >= self._batching.size:
            self.flush()

    @contextlib.contextmanager
    def batch(self, size: int = 500) -> Iterator[None]:
        """Publish the messages sent on this thread in the block together, as batches.

        ``message_<name>``, ``message``, ``send`` and ``forward`` collect their messages;
        every ``size`` of them, at :meth:`flush` and when the block ends (by an exception
        too: what was sent is published) they go out through
        :meth:`Transport.publish_batch <msgbus.transport.Transport.publish_batch>`, whose
        confirms come together. Messages the broker refused raise
        :class:`~msgbus.errors.PublishBatchFailed` there, naming them, so they can be
        published again. An RPC started in the block publishes what was collected first;
        other threads publish as usual; a ``batch()`` inside another is part of it.
        """
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
            raise ValidationError(f"batch size must be an int >= 1, got {size!r}")
        batching = self._batching
        if batching.pending is not None:  # inside another batch: part of it
            yield
            return
        batching.pending, batching.size = [], size
        try:
            yield
        finally:
            try:
                self.flush()
            finally:
                batching.pending = None

    def flush(self) -> None:
        """Publish what this thread's open :meth:`batch` has collected (else nothing)."""
        batching = self._batching
        pending = batching.pending
        if pending:
            batching.pending = []
            with self._lock:
                self.transport.publish_batch(pending)

    def message(self, *args: Any, _key: str | None = None, _eks: EKS | None = None,
                **kwargs: Any) -> None:
        """Send a generic message: ``content = {"args": [...], "kwargs": {...}}`` (as
        Postage 1.x does when :attr:`postage_compatible`: ``{"args": [...], "kwds": {...}}``,
        each only when not empty)."""
        if self.postage_compatible:
            content: dict[str, Any] = {}
            if args:
                content["args"] = list(args)
            if kwargs:
                content["kwds"] = kwargs
        else:
            content = {"args": list(args), "kwargs": kwargs}
        message = Message(content=content)
        message.set_fingerprint(self.fingerprint)
        self.send(message, _key=_key, _eks=_eks)

    def _send_named(
        self, name: str, /, *args: Any, _key: str | None = None, _eks: EKS | None = None,
        **kwargs: Any,
    ) -> None:
        if self._plain and _builder(type(self), "message", name) is None:
            self._publish(self._encode_command("message", name, args, kwargs), _key, _eks)
        else:
            self.send(self.build("message", name, *args, **kwargs), _key=_key, _eks=_eks)

    # -- RPC ---------------------------------------------------------------------------

    def rpc(
        self,
        message: Message,
        *,
        _key: str | None = None,
        _eks: EKS | None = None,
        _timeout: float | None = None,
        _max_retry: int | None = None,
    ) -> MessageResult:
        """Send the RPC ``message`` and wait for its result."""
        return self.start_rpc(
            message, _key=_key, _eks=_eks, _timeout=_timeout, _max_retry=_max_retry
        ).wait()

    def start_rpc(
        self,
        message: Message,
        *,
        _key: str | None = None,
        _eks: EKS | None = None,
        _timeout: float | None = None,
        _max_retry: int | None = None,
    ) -> PendingReply:
        """Publish the RPC ``message``; return the call in flight."""
        if message.category != "rpc":
            raise ValidationError(
                f"an RPC needs a message of category 'rpc', got {message.category!r} "
                f"({type(message).__name__} {message.name!r})"
            )
        return self._start_encoded(
            self.encoder.encode(message.body), message.type, message.name,
            _key, _eks, _timeout, _max_retry,
        )

    def _start_encoded(
        self,
        data: bytes,
        message_type: str,
        message_name: str,
        _key: str | None,
        _eks: EKS | None,
        _timeout: float | None,
        _max_retry: int | None,
    ) -> PendingReply:
        if self._batching.pending:  # what was sent before the RPC goes before it
            self.flush()
        if _key is None and _eks is None and self._default_eks is not None:
            exchange, key = self._default_eks[0]
        else:
            exchange, key = self.resolve_eks(_key, _eks)[0]
        if exchange not in self._declared:
            with self._lock:
                self._declare(exchange)
        return self.rpc_client.start_encoded(
            exchange.name,
            key,
            data,
            message_type,
            message_name,
            timeout=self.rpc_timeout if _timeout is None else _timeout,
            max_retry=self.max_retry if _max_retry is None else _max_retry,
        )

    def _rpc_named(
        self,
        name: str,
        /,
        *args: Any,
        _key: str | None = None,
        _eks: EKS | None = None,
        _timeout: float | None = None,
        _max_retry: int | None = None,
        _queue_only: bool = False,
        **kwargs: Any,
    ) -> Any:
        if not _queue_only and self._plain and _builder(type(self), "rpc", name) is None:
            return self._start_encoded(
                self._encode_command("rpc", name, args, kwargs),
                "command", name, _key, _eks, _timeout, _max_retry,
            ).wait()
        message = self.build("rpc", name, *args, **kwargs)
        if _queue_only:
            return self.rpc_to_queue(message, _key=_key, _eks=_eks)
        return self.rpc(message, _key=_key, _eks=_eks, _timeout=_timeout, _max_retry=_max_retry)

    def _start_rpc_named(
        self,
        name: str,
        /,
        *args: Any,
        _key: str | None = None,
        _eks: EKS | None = None,
        _timeout: float | None = None,
        _max_retry: int | None = None,
        **kwargs: Any,
    ) -> PendingReply:
        if self._plain and _builder(type(self), "rpc", name) is None:
            return self._start_encoded(
                self._encode_command("rpc", name, args, kwargs),
                "command", name, _key, _eks, _timeout, _max_retry,
            )
        message = self.build("rpc", name, *args, **kwargs)
        return self.start_rpc(
            message, _key=_key, _eks=_eks, _timeout=_timeout, _max_retry=_max_retry
        )

    def rpc_to_queue(
        self, message: Message, *, _key: str | None = None, _eks: EKS | None = None
    ) -> str:
        """Send the RPC ``message`` with its reply going to a new private queue; return it.

        The queue is exclusive to this producer's connection: read the reply with
        ``producer.transport.get(queue)``. No timeout or retry applies.
        """
        exchange, key = self.resolve_eks(_key, _eks)[0]
        self.flush()
        with self._lock:
            self._declare(exchange)
            queue = self.transport.declare_queue("", exclusive=True).name
            self.transport.publish(
                exchange.name,
                key,
                self.encoder.encode(message.body),
                Properties(
                    content_type=self.encoder.content_type,
                    reply_to=queue,
                    correlation_id=queue,
                    delivery_mode=self._properties.delivery_mode,
                ),
            )
        return queue

    # -- lifecycle ---------------------------------------------------------------------

    def _declare(self, exchange: type[Exchange]) -> None:
        if exchange not in self._declared:
            exchange.declare(self.transport)
            self._declared.add(exchange)

    def close(self) -> None:
        """Stop receiving replies; close the transport if this producer opened it."""
        with self._lock:
            if self.transport.is_open:
                self.flush()
                self.rpc_client.close()
                if self._owns_transport:
                    self.transport.close()

    def __enter__(self) -> GenericProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_EKS_FORM = "a list of (Exchange subclass, routing key) pairs"


def require_eks(eks: object, what: str = "eks") -> list[tuple[type[Exchange], str]]:
    """``eks`` as a list, checked: a :class:`~msgbus.errors.ValidationError` naming
    ``what`` and the entry that is not (Exchange subclass, routing key)."""
    if isinstance(eks, (str, bytes, Mapping)) or not isinstance(eks, Iterable):
        raise ValidationError(
            f"{what} must be {_EKS_FORM}, got {type(eks).__name__}: {_short(eks)}")
    entries = list(eks)
    if (len(entries) == 2 and isinstance(entries[0], type) and issubclass(entries[0], Exchange)
            and isinstance(entries[1], str)):
        raise ValidationError(
            f"{what} must be {_EKS_FORM}, got the single pair {_short(eks)}: put it in a "
            "list, [(Exchange, key)]")
    for i, entry in enumerate(entries):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ValidationError(
                f"{what}[{i}] must be a pair (Exchange subclass, routing key), got "
                f"{_short(entry)}")
        exchange, key = entry
        if not (isinstance(exchange, type) and issubclass(exchange, Exchange)):
            raise ValidationError(
                f"{what}[{i}]: expected an Exchange subclass (the class itself), got "
                f"{_short(exchange)}")
        if not isinstance(key, str):
            raise ValidationError(
                f"{what}[{i}]: the routing key must be a str, got {type(key).__name__}: "
                f"{_short(key)}")
    return [(exchange, key) for exchange, key in entries]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_builders: dict[tuple[type[GenericProducer], str, str], Callable[..., Any] | None] = {}


def _builder(cls: type[GenericProducer], kind: str, name: str) -> Callable[..., Any] | None:
    """``cls.build_<kind>_<name>``, or None; looked up once per class and name."""
    key = (cls, kind, name)
    try:
        return _builders[key]
    except KeyError:
        found: Callable[..., Any] | None = getattr(cls, f"build_{kind}_{name}", None)
        if len(_builders) < 10_000:  # bounded: names come from code, not from the network
            _builders[key] = found
        return found
