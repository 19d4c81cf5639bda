"""One client connection: the AMQP 0-9-1 handshake, frames in and out, heartbeats and flow.

An :class:`asyncio.Protocol` on the server's loop. What the client sends is decoded and
applied to its broker connection at once; what the broker has for the client (deliveries,
returns, confirms, cancels) is pushed by :meth:`Connection.on_ready` and written as soon as
the loop gets to it, a message's frames always together. Writes made while handling one
batch of input are joined into one. A client that does not read its socket is not sent more
(its deliveries wait in the broker, bounded by its prefetch), and publishers are not read
from while such a backlog lasts, as RabbitMQ's flow control does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from pika import spec
from pika.amqp_object import Method as PikaMethod

from contrib.amqp_server import framing
from contrib.amqp_server.auth import (
    MECHANISMS,
    AuthFailure,
    client_capability,
    credentials,
    refusal_text,
    server_properties,
)
from contrib.amqp_server.channels import (
    CLIENT_METHODS,
    ChannelMethods,
    PendingContent,
)
from contrib.amqp_server.details import ClientDetails
from contrib.amqp_server.framing import (
    HEARTBEAT,
    METHOD,
    FrameError,
    method_ids,
    payload_of,
)
from contrib.amqp_server.outbound import encode_content, encode_events
from contrib.amqp_server.properties import encode_properties
from msgbus.errors import AMQPError, ChannelClosed, MsgbusError
from transports.memory import Connection

if TYPE_CHECKING:
    from contrib.amqp_server.server import ServerState

__all__ = ["ClientConnection"]

log = logging.getLogger("msgbus.amqp_server")

CHANNEL_MAX = 2047
FRAME_MAX = 131072
FRAME_MIN = 4096
HEARTBEAT_SECONDS = 60
HANDSHAKE_TIMEOUT = 10.0
SILENT_CLOSE_DELAY = 3.0
CLOSING_TIMEOUT = 30.0  # seconds: RabbitMQ's longest wait for a closing client
_UNEXPECTED_METHOD = "UNEXPECTED_FRAME - expected method frame, got non method frame instead"


class ClientConnection(asyncio.Protocol):
    """The server's side of one client connection."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.loop = server.loop
        self.reader = framing.FrameReader()
        self.state = "header"  # header, start, tune, open, running, closing, closed
        self.out: list[bytes] = []
        self.channels: dict[int, ChannelMethods] = {}
        self.connection: Connection | None = None
        self.transport: asyncio.Transport | None = None
        self.user = ""
        self.vhost = ""
        self._password = ""
        self._header = bytearray()
        self.mechanism = ""
        self.client_properties: dict[str, Any] = {}
        self.channel_max = CHANNEL_MAX
        self.frame_max = FRAME_MAX
        self.heartbeat = 0
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.connected_at = int(time.time() * 1000)
        self.counters = [0, 0, 0, 0]  # recv_oct, send_oct, recv_cnt, send_cnt
        self.last_recv = self.last_send = self.loop.time()
        self.write_paused = False
        self.flow_paused = False  # not read from while a consumer's backlog lasts
        self.published = False
        self.just_closed: set[int] = set()  # closed by the client in this batch of input
        self._timer: asyncio.TimerHandle | None = None
        self._ready_pending = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"expected a stream transport, got {transport!r}")
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self.peer, self.local = (str(peer[0]), int(peer[1])), (str(local[0]), int(local[1]))
        transport.set_write_buffer_limits(high=1 << 20)
        self.server.connections.add(self)
        self._timer = self.loop.call_later(HANDSHAKE_TIMEOUT, self._handshake_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = "closed"
        if self._timer is not None:
            self._timer.cancel()
        self.server.connections.discard(self)
        self.server.writer_unblocked(self)
        self._release()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()
        self.server.writer_blocked(self)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self.flow_paused and self.state != "closed":
            self.transport.resume_reading()
        self.server.writer_unblocked(self)
        self._pump()
        self._flush()

    def data_received(self, data: bytes) -> None:
        counters = self.counters
        counters[0] += len(data)
        self.last_recv = self.loop.time()
        if self.state == "header":
            data = self._protocol_header(data)
            if not data:
                return
        if self.state == "closed":
            return
        server = self.server
        server.processing = True
        try:
            self._frames_received(data)
        finally:
            server.processing = False
            ready, server.ready_later = server.ready_later, []
        # what the input made the broker send, to this client and to others, goes out now
        # (one write each), not a loop turn later
        for connection in ready:
            connection._ready_pending = False
            if connection.state == "running":
                connection._pump()
                if connection is not self:
                    connection._flush()
        self._flush()
        if self.published and server.blocked_writers and not self.flow_paused:
            self.flow_paused = True
            if self.transport is not None:
                self.transport.pause_reading()
        self.published = False
        self.just_closed.clear()

    def _frames_received(self, data: bytes) -> None:
        counters = self.counters
        frames, malformed = self.reader.feed(data)
        for frame in frames:
            if self.state == "closed":
                return
            counters[2] += 1
            # what earlier frames made the broker send goes out before the reply to a method,
            # as RabbitMQ's channel sends it; between publishes it waits (to the end of the
            # input at most), so that their confirms go out together
            connection = self.connection
            if (frame.type == METHOD and type(frame.payload) is not spec.Basic.Publish
                    and connection is not None and connection.has_events()):
                self._pump()
            try:
                self._handle(frame)
            except FrameError as error:
                self._frame_error(error)
                return
        if malformed is not None and self.state != "closed":
            self._frame_error(malformed)

    # -- writing ----------------------------------------------------------------------

    def _send(self, channel: int, method: PikaMethod) -> None:
        self.out.append(framing.method_frame(channel, method))

    def _flush(self) -> None:
        out = self.out
        if out and self.transport is not None and self.state != "closed":
            data = b"".join(out) if len(out) > 1 else out[0]
            self.counters[1] += len(data)
            self.counters[3] += len(out)
            self.last_send = self.loop.time()
            self.transport.write(data)
        out.clear()

    def resume_flow(self) -> None:
        """The server's backlog is gone: read from this publisher again."""
        if self.flow_paused:
            self.flow_paused = False
            if self.transport is not None and not self.write_paused:
                self.transport.resume_reading()

    # -- the handshake ----------------------------------------------------------------

    def _protocol_header(self, data: bytes) -> bytes:
        buffered = bytes(self._header) + data
        if len(buffered) < 8:
            self._header = bytearray(buffered)  # RabbitMQ waits for all eight bytes
            return b""
        self._header = bytearray()
        if buffered[:8] not in framing.PROTOCOL_HEADERS:
            self._reject_header()
            return b""
        self.state = "start"
        self._send(0, spec.Connection.Start(0, 9, server_properties(self.server.node_name),
                                            MECHANISMS, "en_US"))
        self._flush()
        return buffered[8:]

    def _reject_header(self) -> None:
        """A protocol header RabbitMQ does not speak: it answers with its own and closes."""
        self.out.append(framing.PROTOCOL_HEADER)
        self._flush()
        self._abort(reset=True)

    def _handshake_timeout(self) -> None:
        if self.state in ("header", "start", "tune", "open"):
            log.info("closing %s: handshake timeout", self.name)
            self._abort(reset=True)

    def _connection_method(self, method: PikaMethod) -> None:
        state = self.state
        if state == "closing":
            if isinstance(method, spec.Connection.CloseOk):
                self._abort(reset=True)  # RabbitMQ's socket lingers 0: the client sees a reset
            elif isinstance(method, spec.Connection.Close):
                self._send(0, spec.Connection.CloseOk())
            return
        if isinstance(method, spec.Connection.StartOk) and state == "start":
            self._start_ok(method)
        elif isinstance(method, spec.Connection.TuneOk) and state == "tune":
            self._tune_ok(method)
        elif isinstance(method, spec.Connection.Open) and state == "open":
            self._open(method)
        elif isinstance(method, spec.Connection.Close):
            self._send(0, spec.Connection.CloseOk())
            self._flush()
            # the socket is the client's to close, as on RabbitMQ's (a close is answered
            # again meanwhile); reset after the heartbeat timeout, 30 s at most, if it does not
            self._closing(min(self.heartbeat or CLOSING_TIMEOUT, CLOSING_TIMEOUT), reset=True)
            self._release()
        elif isinstance(method, spec.Connection.CloseOk):
            self._abort()
        elif state in ("start", "tune"):
            self._abort(reset=True)  # RabbitMQ drops a client that breaks the handshake
        elif isinstance(method, (spec.Connection.UpdateSecret,)):
            self._send(0, spec.Connection.UpdateSecretOk())
        else:
            class_id, method_id = method_ids(method)
            raise FrameError(504, "CHANNEL_ERROR - unexpected method in connection state "
                             f"{'running' if state == 'running' else 'opening'}",
                             class_id, method_id)

    def _start_ok(self, method: spec.Connection.StartOk) -> None:
        self.client_properties = dict(method.client_properties or {})
        mechanism = method.mechanism
        self.mechanism = mechanism.decode() if isinstance(mechanism, bytes) else str(mechanism)
        try:
            username, password = credentials(self.mechanism, method.response)
        except AuthFailure:
            log.info("closing %s: bad authentication mechanism or response", self.name)
            self._abort(reset=True)
            return
        if not self.server.broker.authenticate(username, password, address=self.peer[0]):
            log.info("closing %s: user %r refused", self.name, username)
            if client_capability(self.client_properties, "authentication_failure_close"):
                self._send(0, spec.Connection.Close(403, refusal_text(self.mechanism), 0, 0))
                self._flush()
                self._linger()
            else:
                self._abort(reset=True)
            return
        self.user = username
        self._password = password
        self.state = "tune"
        self._send(0, spec.Connection.Tune(CHANNEL_MAX, FRAME_MAX, HEARTBEAT_SECONDS))

    def _tune_ok(self, method: spec.Connection.TuneOk) -> None:
        channel_max, frame_max = method.channel_max, method.frame_max
        if (channel_max == 0 or channel_max > CHANNEL_MAX or frame_max == 0
                or frame_max > FRAME_MAX or frame_max < FRAME_MIN):
            log.info("closing %s: tune-ok out of bounds (channel_max=%s, frame_max=%s)",
                     self.name, channel_max, frame_max)
            self._abort(reset=True)
            return
        self.channel_max, self.frame_max = channel_max, frame_max
        self.reader.frame_max = frame_max
        self.heartbeat = method.heartbeat
        self.state = "open"

    def _open(self, method: spec.Connection.Open) -> None:
        vhost = method.virtual_host
        vhost = vhost.decode("utf-8", "surrogateescape") if isinstance(vhost, bytes) else vhost
        try:
            connection = self.server.broker.connect(
                vhost, username=self.user, password=self._password,
                name=str(self.client_properties.get("connection_name") or ""))
        except AMQPError as error:
            self._close_connection(error.reply_code, error.reply_text, *method_ids(method))
            return
        self._password = ""
        self.connection = connection
        self.vhost = vhost
        self.state = "running"
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.heartbeat:
            self._timer = self.loop.call_later(self.heartbeat / 2, self._heartbeat)
        self._send(0, spec.Connection.OpenOk())
        connection.on_ready(self._ready_from_any_thread)

    # -- heartbeats -------------------------------------------------------------------

    def _heartbeat(self) -> None:
        if self.state not in ("running", "closing"):
            return
        now = self.loop.time()
        if now - self.last_recv >= 2 * self.heartbeat:
            log.warning("closing %s: missed heartbeats from client, timeout: %ss",
                        self.name, self.heartbeat)
            self._abort(reset=True)
            return
        if now - self.last_send >= self.heartbeat / 2 and not self.write_paused:
            self.out.append(framing.HEARTBEAT_FRAME)
            self._flush()
        self._timer = self.loop.call_later(self.heartbeat / 2, self._heartbeat)

    # -- frames on channels -----------------------------------------------------------

    def _handle(self, frame: framing.Frame) -> None:
        if frame.type == HEARTBEAT:
            return
        number = frame.channel
        if number == 0:
            if frame.type != METHOD:
                raise FrameError(505, f"UNEXPECTED_FRAME - type {frame.type}, all octets = "
                                 f"{framing.octets(payload_of(frame))}")
            self._connection_method(frame.payload)
            return
        if self.state == "closing":
            return
        if self.state != "running":
            self._abort(reset=True)
            return
        wire = self.channels.get(number)
        if wire is not None and wire.closing:
            # after the server's channel.close only its close-ok counts (and a crossing close)
            if frame.type == METHOD:
                if isinstance(frame.payload, spec.Channel.CloseOk):
                    del self.channels[number]
                elif isinstance(frame.payload, spec.Channel.Close):
                    self._send(number, spec.Channel.CloseOk())
            return
        if wire is not None and wire.content is not None:
            self._content_frame(wire, frame)
            return
        if frame.type != METHOD:
            raise FrameError(505, _UNEXPECTED_METHOD)
        method = frame.payload
        if wire is None:
            if isinstance(method, spec.Channel.Open):
                self._open_channel(number)
                return
            if number in self.just_closed:
                return  # RabbitMQ's channel is still going away: what it was sent is dropped
            raise FrameError(504, "CHANNEL_ERROR - expected 'channel.open'", *method_ids(method))
        self._channel_method(wire, number, method)

    def _open_channel(self, number: int) -> None:
        connection = self.connection
        if connection is None:
            raise FrameError(504, "CHANNEL_ERROR - expected 'connection.open'", 20, 10)
        if len(self.channels) >= self.channel_max:
            raise FrameError(530, f"NOT_ALLOWED - number of channels opened "
                             f"({len(self.channels)}) has reached the negotiated channel_max "
                             f"({self.channel_max})")
        channel = connection.channel(number)
        self.channels[number] = ChannelMethods(channel)
        self._send(number, spec.Channel.OpenOk())

    def _channel_method(self, wire: ChannelMethods, number: int, method: PikaMethod) -> None:
        kind = type(method)
        if kind is spec.Basic.Publish:
            wire.content = PendingContent(method)
            self.published = True
            return
        if kind is spec.Channel.Close:
            wire.channel.close()
            del self.channels[number]
            self._send(number, spec.Channel.CloseOk())
            self.just_closed.add(number)
            return
        if kind is spec.Channel.Open:
            raise FrameError(504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10)
        try:
            if kind is spec.Basic.Get:
                self._get(wire, number, method)
                return
            handler = CLIENT_METHODS.get(kind)
            if handler is None:
                wire.unimplemented(method)
                return
            reply = handler(wire, method)
        except AMQPError as error:
            self._amqp_error(number, method, error)
            return
        if reply is not None:
            self._send(number, reply)

    def _content_frame(self, wire: ChannelMethods, frame: framing.Frame) -> None:
        content = wire.content
        if content is not None and content.add(frame):
            self._publish(wire, frame.channel)

    def _publish(self, wire: ChannelMethods, number: int) -> None:
        content = wire.content
        wire.content = None
        if content is None:
            return
        try:
            wire.basic_publish(content)
        except AMQPError as error:
            self._amqp_error(number, content.method, error)

    def _get(self, wire: ChannelMethods, number: int, method: spec.Basic.Get) -> None:
        delivery = wire.basic_get(method)
        if delivery is None:
            self._send(number, spec.Basic.GetEmpty())
            return
        encode_content(self.out, number, spec.Basic.GetOk(
            delivery.delivery_tag, delivery.redelivered, delivery.exchange,
            delivery.routing_key, delivery.message_count or 0),
            delivery.body, encode_properties(delivery.properties), self.frame_max)

    # -- errors -----------------------------------------------------------------------

    def _amqp_error(self, number: int, method: PikaMethod, error: AMQPError) -> None:
        class_id, method_id = method_ids(method)
        if isinstance(error, ChannelClosed):
            wire = self.channels.get(number)
            if wire is not None:
                wire.closing = True
                wire.content = None
            self._send(number, spec.Channel.Close(
                error.reply_code, framing.short_text(error.reply_text), class_id, method_id))
        else:
            self._close_connection(error.reply_code, error.reply_text, class_id, method_id)

    def _frame_error(self, error: FrameError) -> None:
        if error.reply_code == 0 or self.state in ("header", "start", "tune"):
            log.info("closing %s: %s", self.name, error)
            self._abort(reset=True)
            return
        self._close_connection(error.reply_code, error.reply_text, error.class_id,
                               error.method_id)

    def _close_connection(self, code: int, text: str, class_id: int = 0, method_id: int = 0
                          ) -> None:
        """Send connection.close and wait for close-ok (nothing else is read meanwhile)."""
        if self.state in ("closing", "closed"):
            return
        log.info("closing %s: %s %s", self.name, code, text)
        self._send(0, spec.Connection.Close(code, framing.short_text(text), class_id,
                                            method_id))
        self._flush()
        # RabbitMQ waits for close-ok as long as the heartbeat timeout, 30 s at most, then
        # resets the socket (amqpstorm never answers: it stays listed until then)
        self._closing(min(self.heartbeat or CLOSING_TIMEOUT, CLOSING_TIMEOUT), reset=True)
        self._release()

    def _release(self) -> None:
        """Close the broker connection: its unacknowledged messages return to their queues."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.on_ready(None)
            if connection.is_open:
                connection.close()

    def _closing(self, delay: float, *, reset: bool) -> None:
        """Closing: only close and close-ok are heeded now; the socket goes in ``delay``."""
        self.state = "closing"
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(delay, lambda: self._abort(reset=reset))

    def _linger(self) -> None:
        """After a close sent during the handshake, let the client read it and go: RabbitMQ
        keeps the socket for three seconds (ignoring what comes), then resets it."""
        self._closing(SILENT_CLOSE_DELAY, reset=True)

    def shutdown(self) -> None:
        """The server stops: tell the client as RabbitMQ does when its node shuts down."""
        if self.state == "running":
            self._close_connection(320, "CONNECTION_FORCED - broker forced connection closure "
                                   "with reason 'shutdown'")
        self._abort()

    def _abort(self, *, reset: bool = False) -> None:
        """Close the socket; ``reset``: abortively (RST), as RabbitMQ drops a client that
        missed its heartbeats (its sockets linger 0)."""
        if self.state == "closed":
            return
        self.state = "closed"
        self.out.clear()
        transport = self.transport
        if transport is None:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()

    # -- what the broker sends --------------------------------------------------------

    def _ready_from_any_thread(self) -> None:
        """The broker has something for this client (called on whichever thread made it)."""
        server = self.server
        if server.on_loop_thread():
            if not self._ready_pending:
                self._ready_pending = True
                if server.processing:  # at the end of that input (see data_received)
                    server.ready_later.append(self)
                else:
                    self.loop.call_soon(self._ready)
        elif not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: we are gone
                self.loop.call_soon_threadsafe(self._ready)

    def _ready(self) -> None:
        self._ready_pending = False
        if self.state not in ("running",):
            return
        self._pump()
        self._flush()

    def _pump(self) -> None:
        """Encode what waits in the broker for this client (unless it is not reading)."""
        connection = self.connection
        if connection is None or self.write_paused:
            return
        if not connection.is_open:
            error = connection.closed_by
            self._release()
            code, text = ((error.reply_code, error.reply_text) if error is not None
                          else (320, "CONNECTION_FORCED - broker forced connection closure "
                                "with reason 'shutdown'"))
            self._close_connection(code, text)
            return
        try:
            events = connection.drain()
        except MsgbusError:
            return
        encode_events(self.out, events, self.frame_max)

    # -- what the management API lists ------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.peer[0]}:{self.peer[1]} -> {self.local[0]}:{self.local[1]}"

    def details(self) -> ClientDetails:
        connection = self.connection
        recv_oct, send_oct, recv_cnt, send_cnt = self.counters
        return ClientDetails(
            connection.state.id if connection is not None else None, self.name,
            self.peer[0], self.peer[1], self.local[0], self.local[1], self.user,
            self.vhost, self.mechanism, dict(self.client_properties),
            self.channel_max, self.frame_max, self.heartbeat, self.connected_at,
            "flow" if self.flow_paused else self.state if self.state != "open" else "opening",
            recv_oct, send_oct, recv_cnt, send_cnt)

