"""``AmqpServer``: a :class:`~transports.memory.Broker` served over AMQP 0-9-1.

One asyncio loop serves every connection. It runs in the foreground
(:meth:`AmqpServer.serve_forever`, what ``msgbus serve`` does), in a background thread
(``with AmqpServer(broker) as server:``, what tests do), or on a loop of your own
(``await server.start()``). Under the broker's real clock the loop also wakes for the
broker's deadlines (message TTLs, queue expiry), so time-based dead-lettering happens on
time with nobody calling in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
from collections.abc import Callable
from ssl import SSLContext
from types import TracebackType
from typing import TYPE_CHECKING

from contrib.amqp_server.connection import ClientConnection
from contrib.amqp_server.details import ClientDetails
from msgbus.clock import ManualClock, SystemClock
from msgbus.errors import TransportError, ValidationError

if TYPE_CHECKING:
    from transports.memory import Broker

__all__ = ["AmqpServer", "ServerState"]

log = logging.getLogger("msgbus.amqp_server")


class ServerState:
    """What the connections of one server share: the broker, the loop, flow control."""

    def __init__(self, broker: Broker, loop: asyncio.AbstractEventLoop, node_name: str
                 ) -> None:
        self.broker = broker
        self.loop = loop
        self.node_name = node_name
        self.connections: set[ClientConnection] = set()
        self.blocked_writers: set[ClientConnection] = set()
        # while a client's input is handled: the connections the broker has something for
        self.processing = False
        self.ready_later: list[ClientConnection] = []
        self.loop_thread = threading.get_ident()

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.loop_thread

    def writer_blocked(self, connection: ClientConnection) -> None:
        """A client stopped reading: hold back publishers until it catches up."""
        self.blocked_writers.add(connection)

    def writer_unblocked(self, connection: ClientConnection) -> None:
        self.blocked_writers.discard(connection)
        if not self.blocked_writers:
            for other in list(self.connections):
                other.resume_flow()


class AmqpServer:
    """Serve ``broker`` to AMQP 0-9-1 clients on ``host:port`` (``port=0``: a free one).

    ``with AmqpServer(Broker(), port=0) as server:`` runs it in a background thread;
    ``server.url`` is the ``amqp://`` URL to give clients. Listens on 127.0.0.1 unless
    told otherwise. With ``ssl`` (a server-side :class:`ssl.SSLContext`) it speaks AMQP over
    TLS, as RabbitMQ's ``amqps`` listener does, and ``url`` is an ``amqps://`` URL.
    """

    def __init__(self, broker: Broker | None = None, *, host: str = "127.0.0.1",
                 port: int = 5672, ssl: SSLContext | None = None) -> None:
        if broker is None:
            from transports.memory import default_broker

            broker = default_broker()
        if not isinstance(host, str) or not host:
            raise ValidationError(f"host must be a non-empty str, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValidationError(f"port must be an int in 0..65535, got {port!r}")
        if ssl is not None and not isinstance(ssl, SSLContext):
            raise ValidationError(f"ssl must be an ssl.SSLContext or None, got {ssl!r}")
        self.broker = broker
        self.host = host
        self.ssl = ssl
        self._port = port
        self._server: asyncio.Server | None = None
        self._state: ServerState | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Event | None = None

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._server is not None else "not started"
        return f"<AmqpServer {where} broker={self.broker!r}>"

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen, when started with port 0)."""
        if self._server is not None and self._server.sockets:
            port: int = self._server.sockets[0].getsockname()[1]
            return port
        return self._port

    @property
    def url(self) -> str:
        """``amqp://guest:guest@HOST:PORT/%2F`` (``amqps://`` with TLS): the default user
        and vhost."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "amqp" if self.ssl is None else "amqps"
        return f"{scheme}://guest:guest@{host}:{self.port}/%2F"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop serving the clients, once started."""
        return self._loop

    # -- on a loop of your own ----------------------------------------------------------

    async def start(self) -> None:
        """Start listening on the running loop."""
        if self._server is not None:
            raise TransportError(f"{self!r} is already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        state = ServerState(self.broker, loop, f"msgbus@{socket.gethostname()}")
        self._state = state
        try:
            self._server = await loop.create_server(
                lambda: ClientConnection(state), self.host, self._port, reuse_address=True,
                ssl=self.ssl)
        except OSError as error:
            raise TransportError(
                f"cannot listen on {self.host}:{self._port}: {error.strerror}") from None
        self._stopped = asyncio.Event()
        clock = self.broker.clock
        if isinstance(clock, SystemClock):
            self.broker.watch_deadline(self._deadline_moved)
            self._arm_deadline()
        elif isinstance(clock, ManualClock):
            clock.add_listener(self._clock_moved)
        log.info("serving %r on %s", self.broker, self.url)

    async def close(self) -> None:
        """Stop listening and close every client connection (their unacknowledged
        messages return to their queues)."""
        server, self._server = self._server, None
        if server is None:
            return
        clock = self.broker.clock
        if isinstance(clock, SystemClock):
            self.broker.unwatch_deadline(self._deadline_moved)
        elif isinstance(clock, ManualClock):
            clock.remove_listener(self._clock_moved)
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        server.close()
        if self._state is not None:
            for connection in list(self._state.connections):
                connection.shutdown()
        await server.wait_closed()
        if self._stopped is not None:
            self._stopped.set()

    async def wait_closed(self) -> None:
        if self._stopped is not None:
            await self._stopped.wait()

    def connection_details(self) -> list[ClientDetails]:
        """What the server knows of each client connection (for the management API)."""
        state = self._state
        if state is None:
            return []
        return [connection.details() for connection in list(state.connections)]

    # -- time -------------------------------------------------------------------------

    def _deadline_moved(self, deadline: float) -> None:
        self._on_loop(self._arm_deadline)

    def _clock_moved(self) -> None:
        """A manual clock was advanced: what fell due acts now, as if time had passed."""
        self._on_loop(self.broker.tick)

    def _on_loop(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the server's loop: at once from the loop's own thread, else
        scheduled (nothing, once the server stopped)."""
        loop, state = self._loop, self._state
        if loop is None or state is None or self._server is None or loop.is_closed():
            return
        if state.on_loop_thread():
            callback()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback)

    def _arm_deadline(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        if self._server is None or self._loop is None:
            return
        deadline = self.broker.next_deadline()
        if deadline is None or math.isinf(deadline):
            return
        delay = max(0.0, deadline - self.broker.clock.monotonic())
        self._deadline_timer = self._loop.call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        self._deadline_timer = None
        self.broker.tick()
        self._arm_deadline()

    # -- in the foreground or a background thread -------------------------------------

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C) or :meth:`stop` is called from another thread."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        await self.start()
        await self.wait_closed()

    def start_in_thread(self) -> AmqpServer:
        """Serve from a background thread; return once the server listens."""
        if self._thread is not None:
            raise TransportError(f"{self!r} is already running in a thread")
        started = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                await self.start()
            except TransportError as error:
                failure.append(error)
                return
            finally:
                started.set()
            await self.wait_closed()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),),
                                        name=f"msgbus-amqp-{self._port}", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop a server started in a thread (or by :meth:`serve_forever`) and wait for it."""
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed() and self._server is not None:
            future = asyncio.run_coroutine_threadsafe(self.close(), loop)
            future.result(timeout=10)
        if thread is not None:
            thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> AmqpServer:
        return self.start_in_thread()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
