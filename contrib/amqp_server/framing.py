"""AMQP 0-9-1 frames on a byte stream: splitting what a client sends into frames and
decoding their payloads with pika's codec (``pika.spec``), and encoding what the server
sends. A malformed frame raises :class:`FrameError` with the connection error RabbitMQ 3.10
answers it with (501 FRAME_ERROR, 505 UNEXPECTED_FRAME, ...)."""

from __future__ import annotations

import copy
import struct
from typing import Any, NamedTuple

import pika.exceptions
import pika.spec
from pika.amqp_object import Method as PikaMethod

from contrib.amqp_server.fields import TableError
from contrib.amqp_server.method_fields import (
    MALFORMED_UTF8,
    PLAIN_METHODS,
    MalformedShortString,
    decode_fields,
)

__all__ = [
    "BODY",
    "FRAME_END",
    "HEADER",
    "HEARTBEAT",
    "HEARTBEAT_FRAME",
    "METHOD",
    "PROTOCOL_HEADER",
    "ContentHeader",
    "Frame",
    "FrameError",
    "FrameReader",
    "body_frames",
    "method_frame",
    "method_ids",
    "payload_of",
]

METHOD, HEADER, BODY, HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
#: What RabbitMQ also takes as 0-9-1: the AMQP 0-9 header.
PROTOCOL_HEADERS = (PROTOCOL_HEADER, b"AMQP\x01\x01\x00\x09")
HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"
_FRAME_HEADER = struct.Struct(">BHI")
_METHOD_ID = struct.Struct(">HH")
_CONTENT_HEADER = struct.Struct(">HHQ")


class FrameError(Exception):
    """A frame the server cannot take: the connection is closed with ``reply_code`` and
    ``reply_text`` (``class_id``/``method_id`` name the method, when one was decoded).
    ``reply_code`` 0 means RabbitMQ closes the socket without a word."""

    def __init__(self, reply_code: int, reply_text: str, class_id: int = 0,
                 method_id: int = 0) -> None:
        super().__init__(f"{reply_code} {reply_text}")
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.class_id = class_id
        self.method_id = method_id


class ContentHeader(NamedTuple):
    """A content header frame: the body size and the encoded property flags and list
    (kept as they came, so a delivery can carry them on unchanged)."""

    class_id: int
    body_size: int
    properties: bytes


class Frame(NamedTuple):
    type: int
    channel: int
    payload: Any  # a pika Method, a ContentHeader, body bytes, or None for a heartbeat


_PRINTABLE = frozenset([*range(32, 127), *range(160, 256), 8, 9, 10, 11, 12, 13, 27])
_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\e",
            34: '\\"', 92: "\\\\"}


def short_text(text: str) -> str:
    """A reply text cut as RabbitMQ cuts it to fit a short string: 252 bytes and "..."."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= 255:
        return text
    return raw[:252].decode("utf-8", "ignore") + "..."


def octets(payload: bytes) -> str:
    """A frame's payload as RabbitMQ prints it in a FRAME_ERROR: an Erlang binary, shown
    as a string when every byte is printable (only the start: a reply text holds 255)."""
    payload = payload[:256]
    if payload and all(b in _PRINTABLE for b in payload):
        text = "".join(_ESCAPES.get(b, chr(b)) for b in payload)
        return f'<<"{text}">>'
    return "<<" + ",".join(str(b) for b in payload) + ">>"


def unknown_frame(frame_type: int, payload: bytes) -> FrameError:
    return FrameError(501, f"FRAME_ERROR - type {frame_type}, all octets = {octets(payload)}: "
                      "unknown_frame")


def decode_method(payload: bytes) -> PikaMethod:
    """A method frame's payload → a pika method object (decoded by pika's codec)."""
    if len(payload) < 4:
        raise unknown_frame(METHOD, payload)
    class_id, method_id = _METHOD_ID.unpack_from(payload)
    method_class = pika.spec.methods.get((class_id << 16) | method_id)
    if method_class is None:
        # RabbitMQ's reader stops on a method it does not know, closing the socket
        raise FrameError(0, f"unknown method {class_id}.{method_id}", class_id, method_id)
    method = method_class.__new__(method_class)  # decode sets every field
    try:
        if method_class in PLAIN_METHODS:  # no table, no short string to check
            method.decode(payload, 4)
        else:
            decode_fields(method, payload)
    except MalformedShortString as error:
        raise FrameError(501, MALFORMED_UTF8) from error
    except (TableError, pika.exceptions.AMQPError) as error:
        # a field table RabbitMQ cannot read stops its reader: the client is dropped
        raise FrameError(0, f"unreadable field table in {class_id}.{method_id}: {error}",
                         class_id, method_id) from error
    except (struct.error, IndexError, ValueError, TypeError, KeyError, OverflowError) as error:
        raise FrameError(501, f"FRAME_ERROR - cannot decode {octets(payload[4:])}",
                         class_id, method_id) from error
    return method


class FrameReader:
    """Splits the bytes a client sends into frames, checking each against ``frame_max``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.frame_max = 131072  # until tune-ok says otherwise

    def feed(self, data: bytes) -> tuple[list[Frame], FrameError | None]:
        """Take ``data``; return the frames now complete and, when a frame after them is
        malformed, its error: the frames before it are handled first, as RabbitMQ handles
        each frame before it reads the next."""
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        offset = 0
        # RabbitMQ names frame_max - 8 as the limit but lets 8 bytes more through (its
        # FRAME_SIZE_FUDGE, for clients that split bodies at frame_max itself)
        size_limit = self.frame_max - 8 if self.frame_max else 0
        accepted = self.frame_max
        length = len(buffer)
        try:
            while length - offset >= 7:
                frame_type, channel, size = _FRAME_HEADER.unpack_from(buffer, offset)
                if frame_type not in (METHOD, HEADER, BODY, HEARTBEAT):
                    raise unknown_frame(frame_type, b"")
                if accepted and size > accepted:
                    raise FrameError(
                        501, f"FRAME_ERROR - type {frame_type}, all octets = <<>>: "
                        f"{{frame_too_large,{size},{size_limit}}}")
                end = offset + 7 + size
                if end >= length:
                    break
                payload = bytes(buffer[offset + 7:end])
                if buffer[end] != FRAME_END:
                    raise FrameError(
                        501, f"FRAME_ERROR - type {frame_type}, all octets = "
                        f"{octets(payload)}: {{invalid_frame_end_marker,{buffer[end]}}}")
                offset = end + 1
                frames.append(_decode(frame_type, channel, payload))
        except FrameError as error:
            return frames, error
        finally:
            del buffer[:offset]
        return frames, None


def _decode(frame_type: int, channel: int, payload: bytes) -> Frame:
    if frame_type == METHOD:
        return Frame(METHOD, channel, decode_method(payload))
    if frame_type == BODY:
        return Frame(BODY, channel, payload)
    if frame_type == HEADER:
        if len(payload) < 14:
            raise unknown_frame(HEADER, payload)
        class_id, _weight, body_size = _CONTENT_HEADER.unpack_from(payload)
        return Frame(HEADER, channel, ContentHeader(class_id, body_size, payload[12:]))
    if payload:
        raise unknown_frame(HEARTBEAT, payload)
    if channel != 0:
        raise FrameError(505, "UNEXPECTED_FRAME - type 8, all octets = <<>>")
    return Frame(HEARTBEAT, 0, None)


def payload_of(frame: Frame) -> bytes:
    """A decoded header or body frame's payload again (for error texts)."""
    if frame.type == HEADER:
        header: ContentHeader = frame.payload
        return _CONTENT_HEADER.pack(header.class_id, 0, header.body_size) + header.properties
    return frame.payload if isinstance(frame.payload, bytes) else b""


def method_ids(method: PikaMethod) -> tuple[int, int]:
    """A method's class and method ids."""
    index: int = method.INDEX
    return index >> 16, index & 0xFFFF


def method_frame(channel: int, method: PikaMethod) -> bytes:
    """The bytes of a method frame (encoded by pika's codec)."""
    try:
        pieces = method.encode()
    except UnicodeEncodeError:
        pieces = _raw_strings(method).encode()
    payload = b"".join(pieces)
    return b"".join((
        _FRAME_HEADER.pack(METHOD, channel, len(payload) + 4),
        struct.pack(">I", method.INDEX), payload, b"\xce",
    ))


def _raw_strings(method: PikaMethod) -> PikaMethod:
    """A copy of ``method`` whose strings go out as the bytes they came in as: a name that
    was not UTF-8 (``basic.publish`` takes any bytes) is kept with ``surrogateescape``, and
    RabbitMQ sends it back unchanged, in a ``basic.deliver`` or a reply text."""
    raw = copy.copy(method)
    for name, value in vars(method).items():
        if isinstance(value, str):
            setattr(raw, name, value.encode("utf-8", "surrogateescape"))
    return raw


def content_header_frame(channel: int, body_size: int, properties: bytes) -> bytes:
    size = 12 + len(properties)
    return b"".join((
        _FRAME_HEADER.pack(HEADER, channel, size),
        _CONTENT_HEADER.pack(60, 0, body_size), properties, b"\xce",
    ))


def body_frames(channel: int, body: bytes, frame_max: int) -> list[bytes]:
    """A body split into frames of at most ``frame_max`` bytes (none for an empty body)."""
    limit = frame_max - 8
    if len(body) <= limit:
        return [_FRAME_HEADER.pack(BODY, channel, len(body)), body, b"\xce"] if body else []
    pieces: list[bytes] = []
    view = memoryview(body)
    for start in range(0, len(body), limit):
        chunk = view[start:start + limit]
        pieces += [_FRAME_HEADER.pack(BODY, channel, len(chunk)), bytes(chunk), b"\xce"]
    return pieces
