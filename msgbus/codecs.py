"""Encoders: how a message's dictionary form becomes bytes on the wire and back.

:class:`JsonEncoder` (``application/json``) is the default. :class:`MsgpackEncoder`
(``application/msgpack``) needs the optional ``msgpack`` extra. An encoder is any object
with a ``content_type`` and ``encode``/``decode`` methods (:class:`Encoder`); the sender
sets the content type on every message, and the receiver picks the decoder by that content
type (:func:`decoder_for`), so components using different encoders understand each other.

Nothing here ever unpickles: bytes from the network are decoded as data, never as code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from msgbus.errors import ValidationError

__all__ = [
    "DecodeError",
    "EncodeError",
    "Encoder",
    "JsonEncoder",
    "MsgpackEncoder",
    "decoder_for",
    "register_encoder",
]


class EncodeError(ValidationError):
    """A value could not be encoded (e.g. an object JSON does not know)."""


class DecodeError(ValidationError):
    """Bytes received could not be decoded with the decoder for their content type."""


@runtime_checkable
class Encoder(Protocol):
    """Turns a message's dictionary form into bytes and back."""

    content_type: str

    def encode(self, data: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_encoder() -> Any:
    """The C encoder ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` builds on
    every call, built once (without the table of containers being encoded, which a failed
    call would leave dirty: a circular value ends in ``RecursionError`` instead)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return None
    return make(None, _not_json, json.encoder.encode_basestring, None, ":", ",",
                False, False, True)


_c_encode = _json_encoder()
_py_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decoder = json.JSONDecoder()
_json_decode = _decoder.decode
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


class JsonEncoder:
    """JSON, UTF-8, compact separators: ``application/json``."""

    content_type = "application/json"

    def encode(self, data: Any) -> bytes:
        try:
            if _c_encode is not None:
                return "".join(_c_encode(data, 0)).encode("utf-8")
            return _py_encode(data).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"JsonEncoder cannot encode the message: {exc}") from exc
        except RecursionError as exc:
            raise EncodeError(
                "JsonEncoder cannot encode the message: it is circular or nested too deeply"
            ) from exc

    def decode(self, data: bytes) -> Any:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(
                f"JsonEncoder expects a UTF-8 JSON document, got {_preview(data)}: {exc}"
            ) from exc
        if text[:1] == "{":  # the common case: one object, no surrounding white space
            try:
                value, end = _scan(text, 0)
            except (StopIteration, ValueError):
                pass  # decoded again below, for the error message
            except RecursionError as exc:
                raise _too_deep(data) from exc
            else:
                if end == len(text):
                    return value
        try:
            return _json_decode(text)
        except ValueError as exc:
            raise DecodeError(
                f"JsonEncoder expects a UTF-8 JSON document, got {_preview(data)}: {exc}"
            ) from exc
        except RecursionError as exc:
            raise _too_deep(data) from exc

    def __repr__(self) -> str:
        return "JsonEncoder()"


def _too_deep(data: bytes) -> DecodeError:
    return DecodeError(
        f"JsonEncoder cannot decode {_preview(data)}: it is nested too deeply for this "
        "interpreter's recursion limit")


class MsgpackEncoder:
    """MessagePack: ``application/msgpack`` (needs ``pip install 'msgbus[msgpack]'``)."""

    content_type = "application/msgpack"

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError as exc:
            raise ImportError(
                "MsgpackEncoder needs the msgpack package: pip install 'msgbus[msgpack]'"
            ) from exc
        self._msgpack: Any = msgpack

    def encode(self, data: Any) -> bytes:
        try:
            packed: bytes = self._msgpack.packb(data, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(f"MsgpackEncoder cannot encode the message: {exc}") from exc
        return packed

    def decode(self, data: bytes) -> Any:
        try:
            return self._msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, TypeError) as exc:  # msgpack's errors subclass ValueError
            raise DecodeError(
                f"MsgpackEncoder expects a MessagePack document, got {_preview(data)}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return "MsgpackEncoder()"


_JSON = JsonEncoder()
_lock = threading.Lock()
_decoders: dict[str, Encoder] = {}
_lazy: dict[str, type[Any]] = {
    JsonEncoder.content_type: JsonEncoder,
    MsgpackEncoder.content_type: MsgpackEncoder,
    "application/x-msgpack": MsgpackEncoder,
}


def register_encoder(encoder: Encoder, *content_types: str) -> None:
    """Decode messages of ``encoder.content_type`` (and ``content_types``) with ``encoder``."""
    if not isinstance(encoder, Encoder):
        raise ValidationError(
            "register_encoder expects an object with content_type, encode and decode, "
            f"got {type(encoder).__name__}"
        )
    with _lock:
        for content_type in (encoder.content_type, *content_types):
            _decoders[content_type.lower()] = encoder


def decoder_for(content_type: str | None, default: Encoder | None = None) -> Encoder:
    """The encoder that decodes ``content_type``; ``default`` (JSON) when it is not set.

    Raises :class:`DecodeError` for a content type no encoder is registered for.
    """
    if not content_type:
        return default if default is not None else _JSON
    if default is not None and content_type == default.content_type:
        return default
    key = content_type.split(";", 1)[0].strip().lower()
    if default is not None and default.content_type.lower() == key:
        return default
    with _lock:
        found = _decoders.get(key)
        if found is None and key in _lazy:
            try:
                found = _decoders[key] = _lazy[key]()
            except ImportError as exc:
                raise DecodeError(f"cannot decode content type {content_type!r}: {exc}") from exc
    if found is None:
        known = sorted(set(_decoders) | set(_lazy))
        raise DecodeError(
            f"no decoder for content type {content_type!r} (known: {', '.join(known)})"
        )
    return found


def _preview(data: bytes, limit: int = 40) -> str:
    text = repr(bytes(data[:limit]))
    return f"{text}{'...' if len(data) > limit else ''} ({len(data)} bytes)"
