"""Handler decorators and classes: which messages a processor method answers.

::

    class Worker(MessageProcessor):
        @MessageHandler("command", "resize")           # gets body["content"]
        def resize(self, content): ...

        @MessageHandlerFullBody("command", "resize")   # gets the whole body
        def audit(self, body): ...

        @RpcHandler("command", "add")                  # gets content and a reply function
        def add(self, content, reply):
            reply(MessageResult(sum(content["parameters"]["args"])))

        @MessageFilter(upgrade_v1)                     # may transform; raising skips
        @MessageHandler("status", "online")
        def online(self, content): ...

        @MessageHandler("command", "report")           # a class: call() with self.processor
        class Report(Handler):
            def call(self) -> None:
                print(self.processor.fingerprint, self.data)

A handler's ``name`` may be ``None``: it then handles every message of that type.
Several handlers may handle the same message; they run in definition order. An RPC is
answered by one handler: the last one defined (a subclass overrides its base).
Filters run bottom-up (the one nearest the handler first), each on the output of the
previous one, on a private copy of the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from msgbus.errors import ValidationError
from msgbus.messages import Message, MessageResult

if TYPE_CHECKING:
    from msgbus.processor import MessageProcessor

__all__ = [
    "Handler",
    "HandlerSpec",
    "MessageFilter",
    "MessageHandler",
    "MessageHandlerFullBody",
    "ReplyFunction",
    "RpcHandler",
    "handler_specs",
]

#: What an RPC handler calls to answer: a Message (normally a MessageResult) or a bare
#: value, which is sent as ``MessageResult(value)``.
ReplyFunction = Callable[[Any], None]
FilterFunction = Callable[..., Any]
T = TypeVar("T")

_SPECS = "__msgbus_handlers__"
_FILTERS = "__msgbus_filters__"


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """What a decorator records: the messages a handler takes and what it is given."""

    category: str  # "message" or "rpc"
    type: str
    name: str | None
    full_body: bool

    def matches(self, category: str, type: str, name: str) -> bool:
        return (
            self.category == category
            and self.type == type
            and (self.name is None or self.name == name)
        )


@dataclass(frozen=True, slots=True)
class FilterSpec:
    function: FilterFunction
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, data: Any) -> Any:
        return self.function(data, *self.args, **self.kwargs)


class Handler:
    """A handler written as a class: decorate it, define ``call()``.

    ``self.processor`` is the processor, ``self.data`` the content (or the whole body
    with :class:`MessageHandlerFullBody`), ``self.reply_func`` the reply function of an
    RPC (``None`` otherwise).
    """

    def __init__(
        self,
        processor: MessageProcessor,
        data: Any,
        reply_func: ReplyFunction | None = None,
    ) -> None:
        self.processor = processor
        self.data = data
        self.reply_func = reply_func

    def call(self) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must define call()")


class MessageHandler:
    """``@MessageHandler(type, name)``: the method gets the message's content."""

    category = "message"
    full_body = False

    def __init__(self, message_type: str, message_name: str | None = None) -> None:
        if not isinstance(message_type, str):
            raise ValidationError(
                f"{type(self).__name__} expects a message type string, got {message_type!r}"
            )
        if message_name is not None and not isinstance(message_name, str):
            raise ValidationError(
                f"{type(self).__name__} expects a message name string or None, "
                f"got {message_name!r}"
            )
        self.spec = HandlerSpec(self.category, message_type, message_name, self.full_body)

    def __call__(self, target: T) -> T:
        if not callable(target):
            raise ValidationError(
                f"{type(self).__name__} decorates a function or a Handler class, got {target!r}"
            )
        if isinstance(target, type) and not issubclass(target, Handler):
            raise ValidationError(
                f"{type(self).__name__} decorates a function or a Handler subclass, "
                f"got class {target.__qualname__}"
            )
        specs: list[HandlerSpec] = list(vars(target).get(_SPECS, ()))
        specs.append(self.spec)
        setattr(target, _SPECS, tuple(specs))
        return target


class MessageHandlerFullBody(MessageHandler):
    """``@MessageHandlerFullBody(type, name)``: the method gets the whole body."""

    full_body = True


class RpcHandler(MessageHandler):
    """``@RpcHandler(type, name)``: the method gets the content and a reply function."""

    category = "rpc"


class MessageFilter:
    """``@MessageFilter(function, *args, **kwargs)``: ``function(data, *args, **kwargs)``
    runs on a copy of each message before the handler and returns what the handler gets.
    If it raises, the handler is skipped for that message (and the message is still
    acknowledged). Filters stack.
    """

    def __init__(self, function: FilterFunction, *args: Any, **kwargs: Any) -> None:
        if not callable(function):
            raise ValidationError(f"MessageFilter expects a callable, got {function!r}")
        self.filter = FilterSpec(function, args, dict(kwargs))

    def __call__(self, target: T) -> T:
        filters: list[FilterSpec] = list(vars(target).get(_FILTERS, ()))
        filters.append(self.filter)
        setattr(target, _FILTERS, tuple(filters))
        return target


def handler_specs(target: Any) -> tuple[HandlerSpec, ...]:
    """The handler specs a decorator put on ``target`` (empty when none)."""
    specs: tuple[HandlerSpec, ...] = vars(target).get(_SPECS, ()) if _has_dict(target) else ()
    return specs


def filter_specs(target: Any) -> tuple[FilterSpec, ...]:
    filters: tuple[FilterSpec, ...] = vars(target).get(_FILTERS, ()) if _has_dict(target) else ()
    return filters


def _has_dict(target: Any) -> bool:
    return hasattr(target, "__dict__")


def as_reply(value: Any) -> Message:
    """What a reply function sends for ``value``: messages as they are, values wrapped."""
    return value if isinstance(value, Message) else MessageResult(value)
