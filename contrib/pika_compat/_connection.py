"""``BlockingConnection``: pika's blocking connection, over an in-process memory broker.

Like pika, a connection belongs to one thread: deliveries, returns, cancels, timers and
``add_callback_threadsafe`` callbacks run on the thread that calls
:meth:`BlockingConnection.process_data_events` (or ``start_consuming`` / ``consume``),
never under the broker's lock.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import pika
import pika.adapters.blocking_connection
import pika.spec
from pika import exceptions, validators

from contrib.pika_compat._channel import BlockingChannel
from contrib.pika_compat._errors import to_pika_error
from msgbus.errors import AccessRefused, AMQPError, ConnectionClosed, NotAllowed
from transports.memory import Broker, Connection, default_broker
from transports.memory.entities import ConsumerCancelled, Deliver, DeliverMany, Return

__all__ = ["BlockingConnection"]

#: What pika's closed ioloop says when a timer is asked of it.
_IOLOOP_CLOSED = "Timeout closed before call"

#: How long one wait on the broker lasts at most, so that threadsafe callbacks and timers
#: are noticed promptly while the thread is otherwise blocked.
_SLICE = 0.5  # an upper bound only: wake() ends a wait as soon as there is work


class BlockingConnection(pika.adapters.blocking_connection.BlockingConnection):  # type: ignore[misc]
    """pika's ``BlockingConnection`` API over a :class:`~transports.memory.Broker`.

    ``parameters`` is a ``pika.ConnectionParameters`` / ``pika.URLParameters`` (or a
    sequence of them, tried in turn); its ``virtual_host`` and credentials are honoured.
    ``broker`` defaults to the process's default broker. It is a subclass of pika's own
    class (for code that checks ``isinstance``), but none of pika's I/O runs.
    """

    def __init__(self, parameters: Any = None, *, broker: Broker | None = None) -> None:
        self._broker = broker if broker is not None else default_broker()
        self._impl = self._connect(parameters)
        self._channels: dict[int, BlockingChannel] = {}
        self._unopened: set[int] = set()  # channel numbers pika could not open
        self._closed = False
        self._closing_reason: BaseException | None = None
        self._dispatch_depth = 0
        # channels holding acks that their consumer callbacks made (see BlockingChannel)
        self._holding_acks: list[BlockingChannel] = []
        self._timers: list[tuple[float, int, _TimerHandle]] = []
        self._timer_order = itertools.count(1)
        self._threadsafe: deque[Any] = deque()
        self._threadsafe_lock = threading.Lock()
        self._wakeup = False

    def _connect(self, parameters: Any) -> Connection:
        if parameters is None:
            candidates: Sequence[Any] = [pika.ConnectionParameters()]
        elif isinstance(parameters, Sequence):
            if not parameters:
                raise ValueError("Expected a non-empty sequence of connection parameters")
            candidates = parameters
        else:
            candidates = [parameters]
        error: exceptions.AMQPConnectionError | None = None
        for params in candidates:
            if not isinstance(params, pika.connection.Parameters):
                raise TypeError(
                    f"Expected pika.connection.Parameters instance, but got {params!r}")
            credentials = params.credentials
            username = getattr(credentials, "username", "guest")
            password = getattr(credentials, "password", "guest")
            try:
                connection = self._broker.connect(params.virtual_host, username=username,
                                                  password=password)
                self._params = params
                return connection
            except AccessRefused as refused:
                error = exceptions.ProbableAuthenticationError(repr(
                    exceptions.ConnectionClosedByBroker(refused.reply_code, refused.reply_text)))
            except NotAllowed as denied:
                error = exceptions.ProbableAccessDeniedError(repr(
                    exceptions.ConnectionClosedByBroker(denied.reply_code, denied.reply_text)))
        if error is None:  # unreachable: an empty sequence was refused above
            raise ValueError("Expected a non-empty sequence of connection parameters")
        raise error

    # -- state ----------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "CLOSED" if self.is_closed else "OPEN"
        return f"<BlockingConnection memory {state} broker={self._broker!r}>"

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.is_open:
            self.close()

    @property
    def is_open(self) -> bool:
        return not self.is_closed

    @property
    def is_closed(self) -> bool:
        if not self._closed and not self._impl.is_open:
            self._lost()
        return self._closed

    @property
    def broker(self) -> Broker:
        """The memory broker this connection talks to (not part of pika's API)."""
        return self._broker

    # Server capabilities, as RabbitMQ advertises them.
    basic_nack_supported = basic_nack = True
    consumer_cancel_notify_supported = consumer_cancel_notify = True
    exchange_exchange_bindings_supported = exchange_exchange_bindings = True
    publisher_confirms_supported = publisher_confirms = True

    def _lost(self) -> None:
        """The broker closed the connection (a connection error, or a restart)."""
        if self._closed:
            return
        closed_by = self._impl.closed_by
        if isinstance(closed_by, AMQPError):
            self._closing_reason = exceptions.ConnectionClosedByBroker(
                closed_by.reply_code, closed_by.reply_text)
        else:
            self._closing_reason = exceptions.ConnectionClosedByBroker(
                320, "CONNECTION_FORCED - connection closed")
        self._shut(self._closing_reason)

    def _lost_reason(self) -> BaseException:
        """Close this connection as lost and return why (to be raised)."""
        self._lost()
        if self._closing_reason is None:
            self._closing_reason = exceptions.ConnectionClosedByBroker(
                320, "CONNECTION_FORCED - connection closed")
        return self._closing_reason

    def _shut(self, reason: BaseException) -> None:
        self._closed = True
        self._closing_reason = reason
        for channel in list(self._channels.values()):
            channel._on_connection_closed(reason)
        self._channels.clear()

    def _broker_closed(self, error: AMQPError) -> exceptions.ConnectionClosedByBroker:
        """A connection error raised by the broker: close everything and return pika's."""
        reason = to_pika_error(error)
        if not isinstance(reason, exceptions.ConnectionClosedByBroker):
            reason = exceptions.ConnectionClosedByBroker(error.reply_code, error.reply_text)
        if self._impl.is_open:
            self._impl.close()
        self._shut(reason)
        return reason

    def _flush_acks(self) -> None:
        for channel in list(self._holding_acks):
            channel._flush_acks()

    def _raise_if_closed(self, what: str) -> None:
        if self._holding_acks:
            self._flush_acks()
        if self.is_closed:
            raise exceptions.ConnectionWrongStateError(what)

    # -- channels -------------------------------------------------------------------

    def channel(self, channel_number: int | None = None) -> BlockingChannel:
        """Open a new channel: number ``channel_number``, or as pika numbers them, the
        lowest one not in use."""
        # pika names its own closed connection object, with the parameters it connected with
        self._raise_if_closed("Channel allocation requires an open connection: "
                              + self._closed_impl_repr())
        if not channel_number:
            taken = len(self._channels) + len(self._unopened)
            channel_number = next(n for n in range(1, taken + 2)
                                  if n not in self._channels)
        elif not isinstance(channel_number, int):
            raise exceptions.InvalidChannelNumber(channel_number)
        elif not 0 < channel_number <= 0xFFFF:
            # pika registers the channel, then fails to pack its channel.open frame; the
            # half-made channel stays registered and breaks the connection's close()
            self._unopened.add(channel_number)
            struct.pack(">H", channel_number)
        self._pump()  # what the broker still had for a closed channel of that number
        try:
            impl = self._impl.channel(channel_number)
        except ConnectionClosed as error:
            raise self._broker_closed(error) from None
        channel = BlockingChannel(impl, self)
        self._channels[channel.channel_number] = channel
        return channel

    def _forget_channel(self, channel: BlockingChannel) -> None:
        if self._channels.get(channel.channel_number) is channel:
            del self._channels[channel.channel_number]

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        if self.is_closed:
            raise exceptions.ConnectionWrongStateError(
                f"BlockingConnection.close({reply_code}, {reply_text!r}) called on closed "
                "connection.")
        for channel in list(self._channels.values()):
            if channel.is_open:
                with contextlib.suppress(exceptions.ChannelClosed):
                    channel.close(reply_code, reply_text)
        if self._unopened:  # pika finds no BlockingChannel for such a channel
            raise AttributeError("'NoneType' object has no attribute 'is_open'")
        self._impl.close()
        self._shut(exceptions.ConnectionClosedByClient(reply_code, reply_text))

    # -- events ---------------------------------------------------------------------

    def _pump(self) -> None:
        """Move what the broker has for this connection to its channels."""
        if not self._impl.has_events():
            return
        for event in self._impl.drain():
            channel = self._channels.get(event.channel)
            if channel is None:
                continue
            if type(event) is DeliverMany:
                channel._on_deliver_many(event)
            elif isinstance(event, Deliver):
                channel._on_deliver(event)
            elif isinstance(event, Return):
                channel._on_return(event.message)
            elif isinstance(event, ConsumerCancelled):
                channel._on_cancelled(event.consumer_tag)
            # PublishConfirm: confirms are settled synchronously by basic_publish.

    def _request_wakeup(self) -> None:
        self._wakeup = True

    def _ready(self) -> bool:
        if self._wakeup or self._threadsafe:
            return True
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)  # removed: nothing to wake up for
        if self._timers and self._timers[0][0] <= time.monotonic():
            return True
        return any(channel._has_pending() for channel in self._channels.values())

    def _wait(self, deadline: float | None) -> None:
        """Block until the broker has something, a timer is due, or ``deadline``."""
        now = time.monotonic()
        limit = _SLICE if deadline is None else min(_SLICE, deadline - now)
        if self._timers:
            limit = min(limit, self._timers[0][0] - now)
        if limit > 0:
            self._impl.wait(limit)

    def process_data_events(self, time_limit: float | None = 0) -> None:
        """Deliver what is waiting and run due timers and callbacks. ``time_limit`` None
        blocks until something was dispatched; a number bounds the wait in seconds."""
        if not self._closed and not self._impl.is_open:
            raise self._lost_reason()
        if self._holding_acks:
            self._flush_acks()
        # pika waits on its ioloop with a timer for time_limit: a closed connection's
        # ioloop refuses the timer, and without one pika's own state check fails
        if time_limit is None:
            if self.is_closed:
                raise exceptions.ConnectionWrongStateError()
            deadline = None
        else:
            self._raise_if_ioloop_closed()
            _check_delay(time_limit)
            deadline = time.monotonic() + time_limit
        dispatch = self._dispatch_depth == 0
        while True:
            self._pump()
            if not self._impl.is_open:
                raise self._lost_reason()
            if dispatch and self._ready():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            self._wait(deadline)
        self._wakeup = False
        if dispatch:
            self._dispatch()

    def _dispatch(self) -> None:
        self._dispatch_depth += 1
        try:
            self._run_timers()  # pika's ioloop fires due timers before threadsafe callbacks
            self._run_threadsafe()
            for channel in list(self._channels.values()):
                channel._dispatch_events()
        finally:
            self._dispatch_depth -= 1

    def _run_threadsafe(self) -> None:
        # one at a time: if a callback raises, the others stay queued for the next call
        with self._threadsafe_lock:
            waiting = len(self._threadsafe)
        for _ in range(waiting):
            with self._threadsafe_lock:
                callback = self._threadsafe.popleft()
            # pika turns each into a timer here, which is when a non-callable fails
            validators.require_callback(callback)
            callback()

    def _run_timers(self) -> None:
        # one at a time: if a callback raises, the other due ones run on the next call
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)[2]
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()

    def _raise_if_ioloop_closed(self) -> None:
        """pika's closed connection has closed its ioloop: no timer can be set on it."""
        if self.is_closed:
            raise ValueError(_IOLOOP_CLOSED)

    def sleep(self, duration: float) -> None:
        """Sleep for ``duration`` seconds while processing events."""
        if duration < 0:  # pika asserts this; an explicit raise survives python -O
            raise AssertionError(duration)
        deadline = time.monotonic() + duration
        while True:
            self.process_data_events(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                break

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        """Run ``callback`` on this connection's thread after ``delay`` seconds (while it
        processes events); returns an opaque timer id for :meth:`remove_timeout`."""
        validators.require_callback(callback)
        self._raise_if_ioloop_closed()
        _check_delay(delay)
        timer = _TimerHandle(callback)
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_order), timer))
        return timer

    def remove_timeout(self, timeout_id: Any) -> None:
        if not isinstance(timeout_id, _TimerHandle):  # pika calls the id's cancel()
            raise AttributeError(
                f"'{type(timeout_id).__name__}' object has no attribute 'cancel'")
        timeout_id.cancelled = True

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        """Ask this connection's thread to run ``callback`` (the one thread-safe method).
        Like pika, a ``callback`` that is not callable fails only when its turn comes."""
        with self._threadsafe_lock:
            if self._closed or not self._impl.is_open:
                raise exceptions.ConnectionWrongStateError(
                    "BlockingConnection.add_callback_threadsafe() called on closed or closing "
                    "connection.")
            self._threadsafe.append(callback)
        self._impl.wake()

    def add_on_connection_blocked_callback(self, callback: Callable[..., None]) -> None:
        """Accepted for compatibility: the memory broker never blocks publishers."""
        if not callable(callback):
            raise TypeError("the first argument must be callable")

    def add_on_connection_unblocked_callback(self, callback: Callable[..., None]) -> None:
        """Accepted for compatibility: the memory broker never blocks publishers."""
        if not callable(callback):
            raise TypeError("the first argument must be callable")

    def update_secret(self, new_secret: str, reason: str) -> None:
        """RabbitMQ's secret update. The memory broker checks no secret (RabbitMQ, with its
        internal user database, accepts any); the arguments are checked as pika checks
        them, by encoding its ``Connection.UpdateSecret`` frame."""
        self._raise_if_closed("Secret update requires an open connection: "
                              + self._closed_impl_repr())
        pika.spec.Connection.UpdateSecret(new_secret, reason).encode()

    def _closed_impl_repr(self) -> str:
        """How pika names its own closed connection object."""
        return f"<SelectConnection CLOSED transport=None params={self._params!r}>"


class _TimerHandle:
    """An opaque timer id, as pika's ``call_later`` returns."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False


def _check_delay(delay: float) -> None:
    """pika's ioloop refuses a negative delay (and compares, so a str raises TypeError)."""
    if delay < 0:
        raise ValueError(f"call_later: delay must be non-negative, but got {delay!r}")
