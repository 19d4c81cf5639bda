"""``ManagementServer``: RabbitMQ's management HTTP API and a web page over a memory broker.

::

    from contrib.management import ManagementServer

    with ManagementServer(broker, port=0) as mgmt:     # its own loop, in a thread
        print(mgmt.url)                                 # http://127.0.0.1:PORT/

    mgmt = ManagementServer(broker, amqp=amqp_server)   # or on a running asyncio loop
    await mgmt.start()
    ...
    await mgmt.close()

Every request is authenticated with HTTP Basic auth against the broker's users; ``guest``
only from a loopback address, as RabbitMQ allows it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import BasicAuth, hdrs, web

from contrib.management import access, actions, api, health
from contrib.management.errors import ApiError, error_response
from contrib.management.stats import Stats
from transports.memory import Broker

__all__ = ["ManagementServer"]

REALM = 'Basic realm="RabbitMQ Management"'
# a user with none of these tags may not use the API (RabbitMQ's management user tags)
MANAGEMENT_TAGS = frozenset(("management", "policymaker", "monitoring", "administrator"))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ManagementServer:
    """Serves RabbitMQ 3.10's management HTTP API for ``broker`` on ``host:port`` (``port=0``
    picks a free port). ``amqp``: the AMQP server serving the same broker, whose clients
    ``/api/connections`` lists; without it, the broker's in-process connections are listed.
    ``stats_interval``: seconds of the broker's clock between rate samples."""

    def __init__(self, broker: Broker, *, host: str = "127.0.0.1", port: int = 15672,
                 amqp: api.AmqpServerLike | None = None, stats_interval: float = 5.0) -> None:
        if not isinstance(broker, Broker):
            raise TypeError(f"ManagementServer needs a transports.memory.Broker, "
                            f"got {type(broker).__name__}")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535, got {port!r}")
        self.broker = broker
        self.host = host
        self._requested_port = port
        self.amqp = amqp
        self.stats = Stats(broker, stats_interval)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sampler: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<ManagementServer {where}>"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the management server is not started: call start() first")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # -- on a running loop ------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._authenticate],
                              client_max_size=16 * 1024 * 1024)
        app[api.CONTEXT] = api.Context(self.broker, self.stats, self.amqp)
        api.add_routes(app)
        actions.add_routes(app)
        access.add_routes(app)
        health.add_routes(app)
        return app

    async def start(self) -> None:
        """Listen (on the running asyncio loop)."""
        if self._runner is not None:
            raise RuntimeError(f"{self!r} is already started")
        self.stats.start()
        runner = web.AppRunner(self.make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            self.stats.stop()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        self._sampler = asyncio.get_running_loop().create_task(self._sample_forever())

    async def _sample_forever(self) -> None:
        """Sample the counters every interval, as RabbitMQ does, whether or not anyone
        asks (on a manual clock nothing happens until the clock has moved)."""
        while True:
            await asyncio.sleep(self.stats.interval)
            self.stats.refresh()

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.cancel()
        if runner is not None:
            await runner.cleanup()
            self.stats.stop()

    # -- in a thread of its own -------------------------------------------------------

    def __enter__(self) -> ManagementServer:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        async def begin() -> None:
            try:
                await self.start()
            except OSError as error:
                failure.append(error)
            finally:
                started.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(begin())
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="msgbus-management", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._stop_thread()
            raise failure[0]
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result()
        self._stop_thread()

    def _stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join()

    # -- middlewares ------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error.response()
        except web.HTTPNotFound:
            return error_response(404, "Object Not Found", "Not Found")
        except web.HTTPMethodNotAllowed as refused:
            response = web.Response(status=405)
            response.headers[hdrs.ALLOW] = ", ".join(sorted(refused.allowed_methods))
            return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler
                            ) -> web.StreamResponse:
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            raise ApiError(401, "", "", headers={hdrs.WWW_AUTHENTICATE: REALM}, empty=True)
        try:
            credentials = BasicAuth.decode(header)
        except ValueError:
            raise ApiError(401, "not_authorized", "Login failed",
                           headers={hdrs.WWW_AUTHENTICATE: REALM}) from None
        if not self.broker.check_password(credentials.login, credentials.password):
            raise ApiError(401, "not_authorized", "Login failed",
                           headers={hdrs.WWW_AUTHENTICATE: REALM})
        # the broker's loopback_users (guest) only from a loopback address, as RabbitMQ
        if not self.broker.authenticate(credentials.login, credentials.password,
                                        address=request.remote or ""):
            raise ApiError(401, "not_authorized", "User can only log in via localhost",
                           headers={hdrs.WWW_AUTHENTICATE: REALM})
        user = self.broker.user(credentials.login)
        if user is None or not MANAGEMENT_TAGS.intersection(user.tags):
            raise ApiError(401, "not_authorised", "Not management user")
        return await handler(request)

