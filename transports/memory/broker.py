"""The thread-safe driver around the sans-IO core: ``Broker``, its connections and channels.

Every call takes the broker's one lock, runs the core, and releases it. What a client must
hear about later (deliveries, returns, confirms, cancels) waits in its connection's inbox;
the client's thread drains it with :meth:`Connection.drain` / :meth:`Connection.wait` and
runs callbacks outside the lock. Event listeners also run outside the lock, one thread at a
time, in the order the broker made the events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from msgbus.clock import Clock, SystemClock
from msgbus.errors import (
    AccessRefused,
    AMQPError,
    ConnectionForced,
    TransportError,
    ValidationError,
)
from msgbus.values import EMPTY_PROPERTIES, Delivery, Properties
from transports.memory.access import ALL, HASHING_ALGORITHM, SYSTEM_USER
from transports.memory.core import BrokerCore, PublishResult
from transports.memory.entities import ChannelState, ConnectionState, OutboxEvent
from transports.memory.events import BrokerEvent
from transports.memory.snapshots import BrokerViews

__all__ = ["Broker", "Channel", "Connection", "default_broker", "named_broker"]

T = TypeVar("T")
NO_ARGS: Mapping[str, Any] = {}


class Broker(BrokerViews):
    """An in-process AMQP 0-9-1 broker that behaves like RabbitMQ 3.10.

    Each ``Broker()`` is independent: tests can make one each. ``clock`` drives every TTL
    and expiry (pass a :class:`~msgbus.clock.ManualClock` to control time).
    """

    def __init__(self, *, clock: Clock | None = None, name: str = "") -> None:
        self.name = name
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiting = 0  # threads in Connection.wait: only they need a notify
        self._notifying = threading.Lock()
        self._core = BrokerCore(self.clock)
        self._connections: dict[int, Connection] = {}
        self._listeners: list[Callable[[BrokerEvent], None]] = []
        # connections whose client is told when their inbox fills (see Connection.on_ready)
        self._pushed: dict[int, Connection] = {}
        self._deadline_watchers: list[Callable[[float], None]] = []
        self._announced_deadline = float("inf")
        self._access = self._core.access
        self.loopback_users = frozenset({"guest"})
        self._access.set_user("guest", "guest", ("administrator",))
        self._access.set_permissions("guest", "/", ALL, ALL, ALL)
        super().__init__(self._core, self._lock)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Broker{label} connections={len(self._connections)}>"

    # -- set-up -----------------------------------------------------------------------

    def add_vhost(self, name: str, *, grant: str | None = "guest") -> None:
        """Add a virtual host (if new); ``grant`` (None: nobody) gets every permission in
        it, as RabbitMQ's API grants its creator; others need :meth:`set_permissions`."""
        with self._lock:
            if name in self._core.vhosts:
                return
            self._core.add_vhost(name)
            if grant is not None and grant in self._core.users:
                self._access.set_permissions(grant, name, ALL, ALL, ALL)

    def add_user(self, username: str, password: str | None = None, *,
                 tags: tuple[str, ...] = (), password_hash: str | None = None,
                 hashing_algorithm: str = HASHING_ALGORITHM) -> None:
        """Add a user, or change an existing one's password and tags (as the management
        API's ``PUT /api/users/{name}``). A user whose password is ``None`` cannot log in
        with a password. Instead of a password, ``password_hash`` is RabbitMQ's (base64 of
        a 4-byte salt and H(salt + password), ``""``: none) with H ``hashing_algorithm``
        (``rabbit_password_hashing_sha256``, ``_sha512`` or ``_md5``), as definitions hold
        it. A new user has no permissions until :meth:`set_permissions`."""
        if password is not None and password_hash is not None:
            raise ValidationError(f"user {username!r} needs a password or a password_hash, "
                                  f"not both")
        with self._lock:
            self._access.set_user(username, password, tags, hashed=password_hash,
                                  hashing_algorithm=hashing_algorithm)
            self._core.users[username] = password

    def delete_user(self, username: str) -> bool:
        """Delete a user and its permissions; its open connections are closed with 320
        ``CONNECTION_FORCED - user 'NAME' is deleted``, as RabbitMQ closes them. False if
        there is no such user."""
        with self._lock:
            if self._core.users.pop(username, ...) is ...:
                return False
            self._access.forget_user(username)
            doomed = [c.state.id for c in self._connections.values()
                      if c.state.user == username]
        for connection_id in doomed:
            self.close_connection(connection_id, f"user '{username}' is deleted")
        return True

    def delete_vhost(self, name: str) -> bool:
        """Delete a virtual host with its exchanges, queues, messages and permissions; its
        connections are closed with 320 ``CONNECTION_FORCED - vhost 'NAME' is down``, as
        RabbitMQ closes them (its vhost stops first). False if there is no such vhost."""
        with self._lock:
            if name not in self._core.vhosts:
                return False
            doomed = [c.state.id for c in self._connections.values() if c.state.vhost == name]
        for connection_id in doomed:
            self.close_connection(connection_id, f"vhost '{name}' is down")
        with self._lock:
            self._core.vhosts.pop(name, None)
            self._access.forget_vhost(name)
        return True

    def set_permissions(self, user: str, vhost: str, configure: str = ALL, write: str = ALL,
                        read: str = ALL) -> None:
        """Grant ``user`` these configure / write / read regular expressions in ``vhost``
        (replacing what it had there), enforced as RabbitMQ does: a pattern matches
        anywhere in a name (``""`` or ``^$``: nothing), from the user's next method on.
        Raises ValidationError for an unknown user or vhost, or a pattern that is not a
        regular expression."""
        with self._lock:
            if user not in self._core.users or vhost not in self._core.vhosts:
                raise ValidationError(
                    f"permissions need an existing user and vhost, got user {user!r} and "
                    f"vhost {vhost!r}")
            self._access.set_permissions(user, vhost, configure, write, read)

    def clear_permissions(self, user: str, vhost: str) -> bool:
        """Take away ``user``'s permissions in ``vhost`` (its connections stay, refused
        every method that needs one); False if it had none there."""
        with self._lock:
            return self._access.clear_permissions(user, vhost)

    def connect(self, vhost: str = "/", *, username: str = "guest", password: str = "guest",
                name: str = "") -> Connection:
        """Open a connection. Wrong credentials → 403 ACCESS_REFUSED; unknown vhost, or one
        the user has no permissions in → 530 NOT_ALLOWED."""
        with self._lock:
            if not self._access.check_password(username, password):
                raise AccessRefused(
                    "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
                    "For details see the broker logfile.")
            return self._open(vhost, username, name)

    def connect_as_system(self, vhost: str = "/", *, name: str = "") -> Connection:
        """A connection that may do anything in ``vhost`` without a login or permissions,
        as RabbitMQ acts for itself (importing definitions), not for a user."""
        with self._lock:
            return self._open(vhost, SYSTEM_USER, name)

    def _open(self, vhost: str, user: str, name: str) -> Connection:
        state = self._core.open_connection(vhost, user, name)
        connection = self._connections[state.id] = Connection(self, state)
        return connection

    # -- time, restart, events --------------------------------------------------------

    def tick(self) -> None:
        """Expire what is due now (every operation does this; call it after moving a clock)."""
        self.run(self._core.tick)

    def next_deadline(self) -> float | None:
        """When, on ``clock.monotonic()``, the broker next has something to do by itself (a
        message TTL, a per-message expiration, a queue's ``x-expires``); ``None`` when
        nothing is timed. Whoever waits for the broker calls :meth:`tick` at that time."""
        with self._lock:
            deadline = self._core.next_deadline()
            self._announced_deadline = deadline
        return None if deadline == float("inf") else deadline

    def watch_deadline(self, watcher: Callable[[float], None]) -> None:
        """Call ``watcher(deadline)`` (outside the lock, on the thread that made it) whenever
        an operation sets a deadline earlier than the last one :meth:`next_deadline`
        reported or a watcher was told, so that a loop sleeping until then wakes sooner."""
        with self._lock:
            self._deadline_watchers.append(watcher)

    def unwatch_deadline(self, watcher: Callable[[float], None]) -> None:
        with self._lock:
            self._deadline_watchers.remove(watcher)

    def restart(self) -> None:
        """Behave like a node restart: every connection is closed (320 CONNECTION_FORCED)
        and their unacknowledged messages return, redelivered; non-durable exchanges and
        queues vanish; transient messages are lost; durable entities, their bindings and
        persistent messages in durable queues remain."""
        with self._lock:
            closed = self._core.restart()
            for state in closed:
                connection = self._connections.pop(state.id, None)
                if connection is not None:
                    connection.closed_by = ConnectionForced(
                        "CONNECTION_FORCED - broker forced connection closure with reason "
                        "'shutdown'")
            self._changed.notify_all()
        self._after_call()

    def close_connection(self, connection_id: int, reason: str = "Closed via management plugin"
                         ) -> bool:
        """Close one client connection, as ``rabbitmqctl close_connection`` or the management
        API does: its client hears 320 ``CONNECTION_FORCED - <reason>`` and its
        unacknowledged messages return, redelivered. False if there is no such connection."""
        with self._lock:
            connection = self._connections.get(connection_id)
            if connection is None or not connection.state.open:
                return False
            connection.closed_by = ConnectionForced(f"CONNECTION_FORCED - {reason}")
            self._core.close_connection(connection.state)
            self._connections.pop(connection_id, None)
            self._changed.notify_all()
        self._after_call()
        if self._core.events:
            self._flush_events()
        return True

    def has_pending_events(self) -> bool:
        """Whether some connection has something waiting for its client (a delivery, a
        return, a confirm or a cancel not yet taken)."""
        with self._lock:
            return any(c.state.outbox for c in self._connections.values())

    @property
    def tracing(self) -> bool:
        """Whether event listeners are registered (the broker then reports every event)."""
        return bool(self._listeners)

    def add_listener(self, listener: Callable[[BrokerEvent], None]) -> None:
        """Call ``listener`` with every :class:`BrokerEvent` (outside the broker lock)."""
        with self._lock:
            self._listeners.append(listener)
            self._core.tracing = True

    def remove_listener(self, listener: Callable[[BrokerEvent], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)
            self._core.tracing = bool(self._listeners)

    # -- running core methods ---------------------------------------------------------

    def run(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a core method under the lock, then notify waiters and listeners."""
        try:
            with self._lock:
                try:
                    return method(*args, **kwargs)
                finally:
                    if self._waiting:
                        self._changed.notify_all()
        finally:
            if self._pushed or self._deadline_watchers:
                self._after_call()
            if self._core.events:
                self._flush_events()

    def run_on_channel(self, channel: ChannelState, method: Callable[..., T], *args: Any,
                       **kwargs: Any) -> T:
        """Run a channel method of the core; an AMQP error closes the channel or connection."""
        try:
            with self._lock:
                try:
                    return method(channel, *args, **kwargs)
                except AMQPError as error:
                    raise self._core.fail(channel, error) from None
                finally:
                    if self._waiting:
                        self._changed.notify_all()
        finally:
            if self._pushed or self._deadline_watchers:
                self._after_call()
            if self._core.events:
                self._flush_events()

    def _after_call(self) -> None:
        """Tell pushed connections whose inbox filled or who were closed, and deadline
        watchers of an earlier deadline; outside the lock."""
        with self._lock:
            ready = [connection for connection in self._pushed.values()
                     if not connection._signalled
                     and (connection.state.outbox or not connection.state.open)]
            for connection in ready:
                connection._signalled = True
            deadline = self._core.next_deadline()
            watchers: list[Callable[[float], None]] = []
            if deadline < self._announced_deadline:
                self._announced_deadline = deadline
                watchers = list(self._deadline_watchers)
        for connection in ready:
            if connection._on_ready is not None:
                connection._on_ready()
        for watcher in watchers:
            watcher(deadline)

    def _flush_events(self) -> None:
        """Hand pending events to the listeners, outside the broker lock and in the order
        the broker made them: one thread at a time delivers, the others leave it their
        events (a listener that calls the broker has its events delivered after it)."""
        while self._core.events:
            if not self._notifying.acquire(blocking=False):
                return
            try:
                while True:
                    with self._lock:
                        events, self._core.events = self._core.events, []
                    if not events:
                        break
                    listeners = list(self._listeners)
                    for event in events:
                        for listener in listeners:
                            listener(event)
            finally:
                self._notifying.release()

    def _forget(self, connection: Connection) -> None:
        self._connections.pop(connection.state.id, None)
        self._pushed.pop(connection.state.id, None)


class Connection:
    """A client connection to a :class:`Broker`."""

    def __init__(self, broker: Broker, state: ConnectionState) -> None:
        self.broker = broker
        self.state = state
        self.closed_by: AMQPError | None = None
        self._woken = False
        self._on_ready: Callable[[], None] | None = None
        self._signalled = False

    def __repr__(self) -> str:
        return (f"<memory Connection #{self.state.id} vhost={self.state.vhost!r} "
                f"user={self.state.user!r} open={self.is_open}>")

    @property
    def is_open(self) -> bool:
        return self.state.open

    def channel(self, number: int | None = None) -> Channel:
        """Open a channel: ``number`` as the client chose it, or the next unused one."""
        self._check_open()
        state = self.broker.run(self.broker._core.open_channel, self.state, number)
        return Channel(self, state)

    def close(self) -> None:
        broker = self.broker
        broker.run(broker._core.close_connection, self.state)
        with broker._lock:
            broker._forget(self)

    def _check_open(self) -> None:
        if not self.state.open:
            raise self.closed_by or TransportError("connection is closed")

    def drain(self) -> list[OutboxEvent]:
        """Take everything waiting for this connection's client."""
        with self.broker._lock:
            outbox = self.state.outbox
            events = list(outbox)
            outbox.clear()
            self._signalled = False
            return events

    def on_ready(self, callback: Callable[[], None] | None) -> None:
        """Push instead of wait: call ``callback()`` when something arrives in this
        connection's inbox or the connection is closed (by the broker, a restart or
        another thread), once until the next :meth:`drain`. It runs on the thread whose
        call made it happen, outside the broker lock, so it must only schedule work (an
        event loop's ``call_soon_threadsafe``). ``None`` stops it."""
        broker = self.broker
        with broker._lock:
            self._on_ready = callback
            self._signalled = False
            if callback is None:
                broker._pushed.pop(self.state.id, None)
            else:
                broker._pushed[self.state.id] = self
        if callback is not None:
            broker._after_call()

    def wait(self, timeout: float | None) -> bool:
        """Wait until something waits in the inbox, the connection closes, :meth:`wake` is
        called (from any thread), or ``timeout`` passes. True unless it timed out.

        The broker's timers run here: when its next deadline (:meth:`Broker.next_deadline`)
        has come on its clock, the wait ticks it (a TTL dead-letters, a queue expires) and
        goes on waiting for what that brings. Under the real clock it wakes for the next
        deadline by itself; a :class:`~msgbus.clock.ManualClock` moves only when told, so
        a wait never sleeps until one of its deadlines."""
        broker = self.broker
        clock = broker.clock
        real = type(clock) is SystemClock
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with broker._lock:
                if self.state.outbox or not self.state.open or self._woken:
                    self._woken = False
                    return True
                until_due = broker._core.next_deadline() - clock.monotonic()
                if until_due > 0:
                    remaining = None if end is None else end - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    if real and (remaining is None or until_due < remaining):
                        remaining = until_due
                    broker._waiting += 1
                    try:  # any call on the broker wakes it: the deadline may be sooner
                        broker._changed.wait(remaining)
                    finally:
                        broker._waiting -= 1
                    continue
            broker.tick()  # outside the lock: listeners and pushed clients are told

    def wake(self) -> None:
        """Make a :meth:`wait` in another thread return now (e.g. to run a callback)."""
        with self.broker._lock:
            self._woken = True
            self.broker._changed.notify_all()

    def has_events(self) -> bool:
        return bool(self.state.outbox)


class Channel:
    """An AMQP channel. Methods mirror AMQP methods and raise :mod:`msgbus.errors` errors;
    a channel error closes the channel, a connection error the connection."""

    def __init__(self, connection: Connection, state: ChannelState) -> None:
        self.connection = connection
        self.state = state

    @property
    def channel_number(self) -> int:
        return self.state.id

    @property
    def is_open(self) -> bool:
        return self.state.open and self.connection.is_open

    def __repr__(self) -> str:
        return f"<memory Channel #{self.state.id} open={self.is_open}>"

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        state = self.state
        if not state.open or not self.connection.state.open:
            self.connection._check_open()
            raise TransportError(f"channel {state.id} is closed")
        return self.connection.broker.run_on_channel(state, method, *args, **kwargs)

    def close(self) -> None:
        if self.state.open:
            self.connection.broker.run(self.connection.broker._core.close_channel, self.state)

    # -- AMQP methods -----------------------------------------------------------------

    def exchange_declare(self, exchange: str, exchange_type: str = "direct", *,
                         passive: bool = False, durable: bool = False, auto_delete: bool = False,
                         internal: bool = False, arguments: Mapping[str, Any] | None = None
                         ) -> None:
        core = self.connection.broker._core
        self._call(core.exchange_declare, exchange, exchange_type, passive=passive,
                   durable=durable, auto_delete=auto_delete, internal=internal,
                   arguments=arguments or NO_ARGS)

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        self._call(self.connection.broker._core.exchange_delete, exchange, if_unused=if_unused)

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: Mapping[str, Any] | None = None) -> None:
        self._call(self.connection.broker._core.bind, ("exchange", destination), source,
                   routing_key, arguments or NO_ARGS)

    def exchange_unbind(self, destination: str, source: str, routing_key: str = "",
                        arguments: Mapping[str, Any] | None = None) -> None:
        self._call(self.connection.broker._core.unbind, ("exchange", destination), source,
                   routing_key, arguments or NO_ARGS)

    def queue_declare(self, queue: str = "", *, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: Mapping[str, Any] | None = None) -> tuple[str, int, int]:
        """Returns (queue name, message count, consumer count), like queue.declare-ok."""
        return self._call(self.connection.broker._core.queue_declare, queue, passive=passive,
                          durable=durable, exclusive=exclusive, auto_delete=auto_delete,
                          arguments=arguments or NO_ARGS)

    def queue_delete(self, queue: str, *, if_unused: bool = False, if_empty: bool = False
                     ) -> int:
        return self._call(self.connection.broker._core.queue_delete, queue,
                          if_unused=if_unused, if_empty=if_empty)

    def queue_purge(self, queue: str) -> int:
        return self._call(self.connection.broker._core.queue_purge, queue)

    def queue_bind(self, queue: str, exchange: str, routing_key: str = "",
                   arguments: Mapping[str, Any] | None = None) -> None:
        self._call(self.connection.broker._core.bind, ("queue", queue), exchange, routing_key,
                   arguments or NO_ARGS)

    def queue_unbind(self, queue: str, exchange: str, routing_key: str = "",
                     arguments: Mapping[str, Any] | None = None) -> None:
        self._call(self.connection.broker._core.unbind, ("queue", queue), exchange, routing_key,
                   arguments or NO_ARGS)

    def basic_qos(self, prefetch_count: int = 0, *, global_qos: bool = False,
                  prefetch_size: int = 0) -> None:
        if not isinstance(prefetch_count, int) or not 0 <= prefetch_count <= 65535:
            raise ValidationError(
                f"prefetch_count must be an int in 0..65535, got {prefetch_count!r}")
        self._call(self.connection.broker._core.basic_qos, prefetch_count, global_=global_qos,
                   prefetch_size=prefetch_size)

    def basic_publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: Properties | None = None, *, mandatory: bool = False
                      ) -> PublishResult:
        return self._call(self.connection.broker._core.basic_publish, exchange, routing_key,
                          body, properties if properties is not None else EMPTY_PROPERTIES,
                          mandatory=mandatory)

    def basic_consume(self, queue: str, consumer_tag: str = "", *, no_ack: bool = False,
                      exclusive: bool = False, arguments: Mapping[str, Any] | None = None
                      ) -> str:
        return self._call(self.connection.broker._core.basic_consume, queue, consumer_tag,
                          no_ack=no_ack, exclusive=exclusive, arguments=arguments or NO_ARGS)

    def basic_cancel(self, consumer_tag: str) -> None:
        self._call(self.connection.broker._core.basic_cancel, consumer_tag)

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        return self._call(self.connection.broker._core.basic_get, queue, no_ack=no_ack)

    def basic_ack(self, delivery_tag: int = 0, *, multiple: bool = False) -> None:
        self._call(self.connection.broker._core.basic_ack, delivery_tag, multiple=multiple)

    def basic_ack_each(self, delivery_tags: list[int]) -> None:
        """Acknowledge these deliveries one by one, in order, in one call (as the acks a
        client sends together): an unknown tag closes the channel there."""
        self._call(self.connection.broker._core.basic_ack_each, delivery_tags)

    def basic_nack(self, delivery_tag: int = 0, *, multiple: bool = False,
                   requeue: bool = True) -> None:
        self._call(self.connection.broker._core.basic_nack, delivery_tag, multiple=multiple,
                   requeue=requeue)

    def basic_reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        self._call(self.connection.broker._core.basic_nack, delivery_tag, multiple=False,
                   requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        self._call(self.connection.broker._core.basic_recover, requeue=requeue)

    def confirm_select(self) -> None:
        self._call(self.connection.broker._core.confirm_select)

    def tx_select(self) -> None:
        self._call(self.connection.broker._core.tx_select)

    def tx_commit(self) -> None:
        self._call(self.connection.broker._core.tx_commit)

    def tx_rollback(self) -> None:
        self._call(self.connection.broker._core.tx_rollback)


_default_lock = threading.Lock()
_named: dict[str, Broker] = {}


def named_broker(name: str = "") -> Broker:
    """The process-wide broker called ``name`` (``""``: the default broker), made on first use.
    This is the only process-global state; tests should prefer their own ``Broker()``."""
    if not isinstance(name, str):
        raise ValidationError(f"broker name must be a str, got {type(name).__name__}")
    with _default_lock:
        broker = _named.get(name)
        if broker is None:
            broker = _named[name] = Broker(name=name or "default")
        return broker


def default_broker() -> Broker:
    """The process's default broker (what ``memory://`` connects to)."""
    return named_broker("")
