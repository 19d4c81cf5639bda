"""Messages: commands, statuses and results, and their dictionary form on the wire.

A message is a plain dictionary once encoded, so components written in any language can
speak with msgbus ones (see ``docs/wire-format.md``)::

    {
      "type": "command",          # free; msgbus uses "command", "status", "result"
      "name": "echo",             # the command, the status, or "result"
      "category": "message",      # "message" (fire and forget) or "rpc" (wants a reply)
      "version": "2",             # the wire version (Postage's)
      "fingerprint": {...},       # the sender's Fingerprint.as_dict()
      "content": {...},           # the payload, a JSON object
      "_reserved": {}
    }

Results (``type == "result"``) carry ``content = {"type": "success" | "error" |
"exception", "value": ..., "message": "..."}``. Errors and exceptions are falsy, so
``if reply:`` tells success from failure.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from msgbus.errors import ValidationError
from msgbus.fingerprint import Fingerprint

__all__ = [
    "CATEGORIES",
    "WIRE_VERSION",
    "InvalidMessage",
    "Message",
    "MessageCommand",
    "MessageResult",
    "MessageResultError",
    "MessageResultException",
    "MessageStatus",
    "RpcCommand",
]

WIRE_VERSION = "2"
_EMPTY: dict[str, Any] = {}
CATEGORIES = ("message", "rpc")


class InvalidMessage(ValidationError):
    """A body that is not a message: wrong shape, missing key, wrong type of value."""


class Message:
    """A message: ``type``, ``name``, ``category``, ``fingerprint`` and ``content``.

    ``Message("status", "online", {"load": 0.3})`` builds a generic one; the subclasses
    below build the common kinds. ``body`` is the dictionary form that goes on the wire.
    """

    default_type: ClassVar[str] = "none"
    default_category: ClassVar[str] = "message"
    result_type: ClassVar[str | None] = None

    def __init__(
        self,
        type: str | None = None,
        name: str = "none",
        content: Mapping[str, Any] | None = None,
        *,
        category: str | None = None,
        fingerprint: Fingerprint | Mapping[str, Any] | None = None,
    ) -> None:
        category = category if category is not None else self.default_category
        type = type if type is not None else self.default_type
        if builtins.type(type) is not str:
            _check_str("type", type)
        if builtins.type(name) is not str:
            _check_str("name", name)
        if category != "message" and category != "rpc":
            raise InvalidMessage(
                f"message category must be 'message' or 'rpc', got {category!r}"
            )
        if content is None:
            content = {}
        elif builtins.type(content) is not dict and not isinstance(content, Mapping):
            raise InvalidMessage(
                f"message content must be a mapping, got {type_name(content)} {content!r}"
            )
        self.body: dict[str, Any] = {
            "type": type,
            "name": name,
            "category": category,
            "version": WIRE_VERSION,
            "fingerprint": {},
            "content": dict(content),
            "_reserved": {},
        }
        if fingerprint is not None:
            self.set_fingerprint(fingerprint)

    # -- the parts ---------------------------------------------------------------------

    @property
    def type(self) -> str:
        value: str = self.body["type"]
        return value

    @property
    def name(self) -> str:
        value: str = self.body["name"]
        return value

    @property
    def category(self) -> str:
        value: str = self.body["category"]
        return value

    @property
    def content(self) -> dict[str, Any]:
        value: dict[str, Any] = self.body["content"]
        return value

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The sender's fingerprint, in its dictionary form (empty when not set)."""
        value: dict[str, Any] = self.body["fingerprint"]
        return value

    def set_fingerprint(self, fingerprint: Fingerprint | Mapping[str, Any]) -> None:
        """Merge ``fingerprint`` (a :class:`Fingerprint` or its dict form) into the message
        (a Fingerprint's ``vhost`` only when it is set)."""
        data: Any = fingerprint
        if isinstance(fingerprint, Fingerprint):
            data = fingerprint.as_dict()
            if data["vhost"] is None:
                del data["vhost"]
        if not isinstance(data, Mapping):
            raise InvalidMessage(
                f"a fingerprint must be a Fingerprint or a mapping, got {type_name(data)}"
            )
        self.body["fingerprint"].update(data)

    # -- conversions -------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the wire form."""
        return copy.deepcopy(self.body)

    @staticmethod
    def validate(body: Any) -> dict[str, Any]:
        """Check that ``body`` has the shape of a message; return it (as a dict)."""
        if type(body) is dict:  # the common case, checked fast
            category = body.get("category")
            if (
                (category == "message" or category == "rpc")
                and type(body.get("type")) is str
                and type(body.get("name")) is str
                and type(body.get("content", _EMPTY)) is dict
                and type(body.get("fingerprint", _EMPTY)) is dict
            ):
                return body
        if not isinstance(body, Mapping):
            raise InvalidMessage(
                f"a message must be a JSON object/mapping, got {type_name(body)} {_short(body)}"
            )
        for key in ("type", "name", "category"):
            if key not in body:
                raise InvalidMessage(f"a message needs the key {key!r}; got keys {sorted(body)}")
            if not isinstance(body[key], str):
                raise InvalidMessage(
                    f"message key {key!r} must be a string, got {type_name(body[key])} "
                    f"{_short(body[key])}"
                )
        if body["category"] != "message" and body["category"] != "rpc":
            raise InvalidMessage(
                f"message key 'category' must be 'message' or 'rpc', got {body['category']!r}"
            )
        for key in ("content", "fingerprint"):
            if key in body and not isinstance(body[key], Mapping):
                raise InvalidMessage(
                    f"message key {key!r} must be an object/mapping, got "
                    f"{type_name(body[key])} {_short(body[key])}"
                )
        return body if type(body) is dict else dict(body)

    @classmethod
    def from_dict(cls, body: Any) -> Message:
        """Rebuild the right class of message from its dictionary form (a copy of it)."""
        data = Message.validate(body)
        content = data.get("content") or {}
        version = data.get("version")
        reserved = data.get("_reserved")
        return _new(
            _class_of(data["type"], data["category"], content),
            {
                "type": data["type"],
                "name": data["name"],
                "category": data["category"],
                "version": version if isinstance(version, str) else WIRE_VERSION,
                "fingerprint": dict(data.get("fingerprint") or {}),
                "content": dict(content),
                "_reserved": dict(reserved) if isinstance(reserved, Mapping) else {},
            },
        )

    @classmethod
    def from_wire(cls, body: Any) -> Message:
        """:meth:`from_dict` for a body just decoded, that nobody else holds: a body
        with every key of the wire form, well typed, becomes the message's own body
        instead of being copied."""
        if type(body) is dict and len(body) == 7:
            category = body.get("category")
            mtype = body.get("type")
            content = body.get("content")
            if (
                (category == "message" or category == "rpc")
                and type(mtype) is str
                and type(body.get("name")) is str
                and type(content) is dict
                and type(body.get("fingerprint")) is dict
                and type(body.get("version")) is str
                and type(body.get("_reserved")) is dict
            ):
                return _new(_class_of(mtype, category, content), body)
        return cls.from_dict(body)

    # -- protocol ----------------------------------------------------------------------

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.body == other.body

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(type={self.type!r}, name={self.name!r}, "
            f"category={self.category!r}, content={self.content!r})"
        )


class MessageCommand(Message):
    """Asks a component to do something, fire and forget: ``content = {"parameters": ...}``."""

    default_type = "command"

    def __init__(self, command: str, parameters: Any = None) -> None:
        if type(command) is not str:
            _check_str("name", command)
        self.body = {
            "type": "command",
            "name": command,
            "category": self.default_category,
            "version": WIRE_VERSION,
            "fingerprint": {},
            "content": {"parameters": parameters if parameters is not None else {}},
            "_reserved": {},
        }

    @property
    def parameters(self) -> Any:
        return self.content.get("parameters")


class RpcCommand(MessageCommand):
    """A command that wants a reply (category ``rpc``)."""

    default_category = "rpc"


class MessageStatus(Message):
    """The status of a component; the status is the message's name."""

    default_type = "status"

    def __init__(self, status: str, **details: Any) -> None:
        super().__init__(None, str(status), {"status": str(status), **details})

    @property
    def status(self) -> str:
        return self.name


class MessageResult(Message):
    """The successful result of an RPC: ``value`` and an optional ``message``."""

    default_type = "result"
    result_type = "success"

    def __init__(self, value: Any = None, message: str = "") -> None:
        self.body = {
            "type": "result",
            "name": "result",
            "category": "message",
            "version": WIRE_VERSION,
            "fingerprint": {},
            "content": {
                "type": self.result_type,
                "value": value,
                "message": message if type(message) is str else str(message),
            },
            "_reserved": {},
        }

    @property
    def value(self) -> Any:
        return self.content.get("value")

    @property
    def message(self) -> str:
        return str(self.content.get("message", ""))

    def __bool__(self) -> bool:
        return self.content.get("type") == "success"


class MessageResultError(MessageResult):
    """An error foreseen by the callee (bad arguments, not found, ...); falsy."""

    result_type = "error"

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class MessageResultException(MessageResult):
    """An exception raised in the callee (or ``TimeoutError`` in the caller); falsy.

    ``value`` holds the exception's class name, ``message`` its text.
    """

    result_type = "exception"

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(str(name), message)

    @property
    def exception_name(self) -> str:
        return str(self.value)

    @classmethod
    def from_exception(cls, exc: BaseException) -> MessageResultException:
        return cls(type(exc).__name__, str(exc))


_RESULTS: dict[str, type[MessageResult]] = {
    "success": MessageResult,
    "error": MessageResultError,
    "exception": MessageResultException,
}


def _class_of(mtype: str, category: str, content: Mapping[str, Any]) -> type[Message]:
    """The class of message a validated body is."""
    if mtype == "command":
        return RpcCommand if category == "rpc" else MessageCommand
    if mtype == "result":
        kind = content.get("type")
        return _RESULTS.get(kind, Message) if type(kind) is str else Message
    if mtype == "status":
        return MessageStatus
    return Message


def _new(cls: type[Message], body: dict[str, Any]) -> Message:
    """A message of class ``cls`` with ``body``, already checked: no constructor runs."""
    message = cls.__new__(cls)
    message.body = body
    return message


def _check_str(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidMessage(f"message {what} must be a string, got {type_name(value)} {value!r}")


def type_name(value: object) -> str:
    return type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
