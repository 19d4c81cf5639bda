"""The reading half of the API: ``GET`` of the overview, vhosts, queues, exchanges, bindings,
connections, channels, consumers; the web page and its assets; ``/msgbus/...`` extras that
RabbitMQ does not have (a routing explanation, the rate history for the chart)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import BasicAuth, hdrs, web

from contrib.explain import EXCHANGE_TYPES, explain, parse_table
from contrib.management import paging, render
from contrib.management.errors import ApiError, bad_request, compact_json, not_found
from contrib.management.stats import GLOBAL, Stats
from transports.memory import Broker, ConnectionSnapshot, ExchangeSnapshot, QueueSnapshot

if TYPE_CHECKING:
    from contrib.amqp_server.details import ClientDetails

__all__ = ["CONTEXT", "AmqpServerLike", "Context", "add_routes", "administrators_only",
           "authorise_vhost", "credentials", "only_for", "vhost_of"]


class AmqpServerLike(Protocol):
    """What the API reads of the AMQP server serving the same broker."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def connection_details(self) -> list[ClientDetails]: ...


@dataclass(frozen=True)
class Context:
    broker: Broker
    stats: Stats
    amqp: AmqpServerLike | None


CONTEXT = web.AppKey("msgbus_management", Context)
DEFAULT_EXCHANGE = "amq.default"
ADMINISTRATOR = "administrator"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC = files("contrib.management") / "static"
ASSETS = {"app.js": "application/javascript", "style.css": "text/css",
          "index.html": "text/html"}


def credentials(request: web.Request) -> tuple[str, str]:
    """The (username, password) of the request (the server has checked them already)."""
    auth = BasicAuth.decode(request.headers[hdrs.AUTHORIZATION])
    return auth.login, auth.password


def context(request: web.Request) -> Context:
    ctx = request.app[CONTEXT]
    ctx.stats.refresh()
    return ctx


def _has_tag(request: web.Request, *tags: str) -> bool:
    username, _ = credentials(request)
    user = request.app[CONTEXT].broker.user(username)
    return user is not None and not set(tags).isdisjoint(user.tags)


def only_for(*tags: str, refusal: str) -> Callable[[Handler], Handler]:
    """A handler answered only to users with one of ``tags`` (401 ``refusal`` to others,
    before anything else), as RabbitMQ keeps users, permissions and vhosts to
    administrators and nodes to monitoring users."""
    def decorate(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not _has_tag(request, *tags):
                raise ApiError(401, "not_authorised", refusal)
            return await handler(request)
        return guarded
    return decorate


administrators_only = only_for(ADMINISTRATOR, refusal="Not administrator user")


def authorise_vhost(request: web.Request, vhost: str) -> None:
    """401 when the request's user has no permissions in ``vhost``, as RabbitMQ answers
    before it looks for what the path names; an administrator passes (what it does there
    is then refused by the broker, "Access refused.")."""
    if _has_tag(request, ADMINISTRATOR):
        return
    username, _ = credentials(request)
    if not any(p.user == username and p.vhost == vhost
               for p in request.app[CONTEXT].broker.permissions()):
        raise ApiError(401, "not_authorised", "User not authorised to access virtual host")


def vhost_of(request: web.Request, *, authorise: bool = True) -> str:
    """The ``{vhost}`` of the path; 404 when the broker has no such vhost, then 401 when
    the user may not use it (see :func:`authorise_vhost`) unless ``authorise`` is False."""
    vhost = request.match_info["vhost"]
    if vhost not in request.app[CONTEXT].broker.vhosts():
        raise not_found()
    if authorise:
        authorise_vhost(request, vhost)
    return vhost


def exchange_name(name: str) -> str:
    """``amq.default`` in a path names the default exchange (``""``)."""
    return "" if name == DEFAULT_EXCHANGE else name


def find_queue(broker: Broker, vhost: str, name: str) -> QueueSnapshot:
    found = broker.queue(name, vhost)
    if found is None:
        raise not_found()
    return found


def find_exchange(broker: Broker, vhost: str, name: str) -> ExchangeSnapshot:
    for exchange in broker.exchanges(vhost):
        if exchange.name == name:
            return exchange
    raise not_found()


def reply(request: web.Request, data: Any, *, paged: bool = False) -> web.Response:
    """JSON; a list in the order of ``?sort=a.b&sort_reverse=true``; one page of it when
    ``paged`` and ``?page=N`` asks (see :mod:`contrib.management.paging`); keeping only
    ``?columns=a,b.c`` when asked (as rabbitmqadmin asks), of a page's items."""
    sort = request.query.get("sort")
    reverse = request.query.get("sort_reverse") == "true"
    asked = paged and isinstance(data, list) and paging.asked(request.query)
    if isinstance(data, list) and (sort or reverse or asked):
        data = render.sort_as_asked(data, sort, reverse)
    page = paging.page_of(request.query, data) if asked else None
    columns = request.query.get("columns")
    if columns:
        paths = [column.split(".") for column in columns.split(",") if column]
        if page is not None:
            page["items"] = [_pick(item, paths) for item in page["items"]]
        elif isinstance(data, list):
            data = [_pick(item, paths) for item in data]
        elif isinstance(data, dict):
            data = _pick(data, paths)
    return web.json_response(data if page is None else page, dumps=compact_json)


def _pick(item: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for path in paths:
        value: Any = item
        for part in path:
            if not isinstance(value, dict) or part not in value:
                break
            value = value[part]
        else:
            target = result
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
    return result


def _vhosts(request: web.Request, *, authorise: bool = True,
            all_for: tuple[str, ...] = (ADMINISTRATOR,)) -> list[str]:
    """The path's vhost, or the vhosts whose objects the user sees: all for a user with
    one of ``all_for`` (the vhosts' own list also for a monitoring user), those it has
    permissions in for others, as RabbitMQ lists them."""
    if "vhost" in request.match_info:
        return [vhost_of(request, authorise=authorise)]
    broker = request.app[CONTEXT].broker
    if _has_tag(request, *all_for):
        return broker.vhosts()
    username, _ = credentials(request)
    granted = {p.vhost for p in broker.permissions() if p.user == username}
    return [vhost for vhost in broker.vhosts() if vhost in granted]


# -- overview, vhosts, whoami ------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    ctx = context(request)
    broker, stats = ctx.broker, ctx.stats
    vhosts = broker.vhosts()
    queues = [q for vhost in vhosts for q in broker.queues(vhost)]
    ready = sum(q.messages_ready for q in queues)
    unacked = sum(q.messages_unacknowledged for q in queues)
    listeners = []
    if ctx.amqp is not None:
        listeners.append({"node": render.NODE, "protocol": "amqp",
                          "ip_address": ctx.amqp.host, "port": ctx.amqp.port,
                          "socket_opts": []})
    listeners.append({"node": render.NODE, "protocol": "http",
                      "ip_address": request.transport.get_extra_info("sockname")[0]
                      if request.transport else "127.0.0.1",
                      "port": request.url.port, "socket_opts": []})
    queue_totals: dict[str, Any] = {"messages": ready + unacked, "messages_ready": ready,
                                    "messages_unacknowledged": unacked}
    queue_totals.update(stats.depth_details("", ""))
    return reply(request, {
        "management_version": render.RABBITMQ_VERSION,
        "rates_mode": "basic",
        "exchange_types": [{"name": kind, "description": f"AMQP {kind} exchange",
                            "enabled": True} for kind in EXCHANGE_TYPES],
        "product_version": render.RABBITMQ_VERSION,
        "product_name": "msgbus",
        "rabbitmq_version": render.RABBITMQ_VERSION,
        "cluster_name": broker.name or "msgbus",
        "erlang_version": "none (msgbus in-process broker)",
        "disable_stats": False,
        "enable_queue_totals": False,
        "message_stats": stats.message_stats(GLOBAL),
        "queue_totals": queue_totals,
        "object_totals": {
            "channels": len(broker.channels()),
            "connections": len(broker.connections()),
            "consumers": len(broker.consumers()),
            "exchanges": sum(len(broker.exchanges(vhost)) for vhost in vhosts),
            "queues": len(queues),
        },
        "statistics_db_event_queue": 0,
        "node": render.NODE,
        "listeners": listeners,
        "contexts": [{"node": render.NODE, "description": "msgbus management",
                      "path": "/", "port": str(request.url.port)}],
    })


def _vhost_json(broker: Broker, stats: Stats, vhost: str) -> dict[str, Any]:
    queues = broker.queues(vhost)
    ready = sum(q.messages_ready for q in queues)
    unacked = sum(q.messages_unacknowledged for q in queues)
    result: dict[str, Any] = {
        "name": vhost, "description": "Default virtual host" if vhost == "/" else "",
        "tags": [], "metadata": {"description": "", "tags": []},
        "default_queue_type": "undefined", "tracing": False,
        "cluster_state": {render.NODE: "running"},
        "messages": ready + unacked, "messages_ready": ready,
        "messages_unacknowledged": unacked, "recv_oct": 0,
        "recv_oct_details": {"rate": 0.0}, "send_oct": 0, "send_oct_details": {"rate": 0.0}}
    message_stats = stats.message_stats(("vhost", vhost, ""))
    if message_stats:  # RabbitMQ shows none for a vhost without traffic
        result["message_stats"] = message_stats
    return result


async def vhosts(request: web.Request) -> web.Response:
    ctx = context(request)
    return reply(request, [_vhost_json(ctx.broker, ctx.stats, vhost) for vhost in
                           _vhosts(request, all_for=(ADMINISTRATOR, "monitoring"))],
                 paged=True)


async def vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    return reply(request, _vhost_json(ctx.broker, ctx.stats, vhost_of(request)))


async def whoami(request: web.Request) -> web.Response:
    username, _ = credentials(request)
    user = request.app[CONTEXT].broker.user(username)
    return reply(request, {"name": username, "tags": list(user.tags) if user else []})


# -- queues, exchanges, bindings -----------------------------------------------------------


def _consumer_details(ctx: Context, vhost: str, queue: str) -> list[dict[str, Any]]:
    connections = connection_index(ctx)
    return [render.consumer_json(c, connections[c.connection])
            for c in ctx.broker.consumers() if c.vhost == vhost and c.queue == queue
            and c.connection in connections]


async def queues(request: web.Request) -> web.Response:
    ctx = context(request)
    found = [render.queue_json(q, ctx.stats) for vhost in _vhosts(request)
             for q in ctx.broker.queues(vhost)]
    return reply(request, render.sort_by_name(found), paged=True)


async def queue(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = vhost_of(request)
    found = find_queue(ctx.broker, vhost, request.match_info["name"])
    result = render.queue_json(found, ctx.stats)
    result["consumer_details"] = _consumer_details(ctx, vhost, found.name)
    result["incoming"] = []
    result["deliveries"] = []
    return reply(request, result)


async def queue_bindings(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = vhost_of(request)
    name = find_queue(ctx.broker, vhost, request.match_info["name"]).name
    return reply(request, [render.binding_json(b) for b in ctx.broker.bindings(vhost)
                           if b.destination_kind == "queue" and b.destination == name])


async def exchanges(request: web.Request) -> web.Response:
    ctx = context(request)
    found = [render.exchange_json(x, ctx.stats) for vhost in _vhosts(request)
             for x in ctx.broker.exchanges(vhost)]
    return reply(request, render.sort_by_name(found), paged=True)


async def exchange(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = vhost_of(request)
    found = find_exchange(ctx.broker, vhost, exchange_name(request.match_info["name"]))
    result = render.exchange_json(found, ctx.stats)
    result["incoming"] = []
    result["outgoing"] = []
    return reply(request, result)


def _exchange_bindings(side: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        ctx = context(request)
        vhost = vhost_of(request)
        name = find_exchange(ctx.broker, vhost, exchange_name(request.match_info["name"])).name
        found = [b for b in ctx.broker.bindings(vhost)
                 if (b.source == name if side == "source"
                     else b.destination_kind == "exchange" and b.destination == name)]
        return reply(request, [render.binding_json(b) for b in found])
    return handler


async def bindings(request: web.Request) -> web.Response:
    broker = context(request).broker
    return reply(request, [render.binding_json(b) for vhost in _vhosts(request)
                           for b in broker.bindings(vhost)])


def binding_ends(request: web.Request) -> tuple[str, str, str, str]:
    """(vhost, source, destination kind, destination) of a ``/api/bindings/...`` path;
    404 when the vhost, the source or the destination is missing."""
    ctx = request.app[CONTEXT]
    vhost = vhost_of(request)
    source = find_exchange(ctx.broker, vhost, exchange_name(request.match_info["source"])).name
    kind = "queue" if request.match_info["kind"] == "q" else "exchange"
    destination = request.match_info["destination"]
    if kind == "queue":
        find_queue(ctx.broker, vhost, destination)
    else:
        destination = find_exchange(ctx.broker, vhost, exchange_name(destination)).name
    return vhost, source, kind, destination


async def binding_list(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost, source, kind, destination = binding_ends(request)
    return reply(request, [render.binding_json(b) for b in ctx.broker.bindings(vhost)
                           if b.source == source and b.destination_kind == kind
                           and b.destination == destination])


async def binding(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost, source, kind, destination = binding_ends(request)
    props = request.match_info["props"]
    for b in ctx.broker.bindings(vhost):
        if (b.source == source and b.destination_kind == kind and b.destination == destination
                and render.properties_key(b.routing_key, b.arguments) == props):
            return reply(request, render.binding_json(b))
    raise not_found()


# -- connections, channels, consumers ----------------------------------------------------


def connection_index(ctx: Context) -> dict[int, dict[str, Any]]:
    """Every open connection as JSON, by the broker's connection id."""
    details: dict[int, ClientDetails] = {}
    if ctx.amqp is not None:
        details = {d.connection_id: d for d in ctx.amqp.connection_details()
                   if d.connection_id is not None}
    return {c.id: render.connection_json(c, details.get(c.id))
            for c in ctx.broker.connections()}


async def connections(request: web.Request) -> web.Response:
    ctx = context(request)
    listed = list(connection_index(ctx).values()) + _unopened(ctx)
    return reply(request, listed, paged=True)


def _unopened(ctx: Context) -> list[dict[str, Any]]:
    """Network clients with no broker connection: not yet in a vhost, or closed by the
    server and not yet gone (a client that never answers the close stays listed, as
    RabbitMQ keeps listing it until its close times out)."""
    if ctx.amqp is None:
        return []
    return [render.connection_json(_pending(d), d) for d in ctx.amqp.connection_details()
            if d.connection_id is None]


def find_connection(ctx: Context, name: str) -> tuple[int, dict[str, Any]]:
    """The broker's id and the listing of the connection called ``name`` (404 if none)."""
    for connection_id, listed in connection_index(ctx).items():
        if listed["name"] == name:
            return connection_id, listed
    for listed in _unopened(ctx):  # listed, so it can be asked for (it has no broker id)
        if listed["name"] == name:
            return 0, listed
    raise not_found()


async def connection(request: web.Request) -> web.Response:
    _, listed = find_connection(context(request), request.match_info["name"])
    return reply(request, listed)


def _pending(details: ClientDetails) -> ConnectionSnapshot:
    """A network client that has not opened a vhost yet: no broker connection so far."""
    return ConnectionSnapshot(0, details.name, details.vhost, details.user, 0)


async def channels(request: web.Request) -> web.Response:
    ctx = context(request)
    index = connection_index(ctx)
    return reply(request, [render.channel_json(ch, index[ch.connection], ctx.stats)
                           for ch in ctx.broker.channels() if ch.connection in index],
                 paged=True)


async def connection_channels(request: web.Request) -> web.Response:
    ctx = context(request)
    connection_id, listed = find_connection(ctx, request.match_info["name"])
    return reply(request, [render.channel_json(ch, listed, ctx.stats)
                           for ch in ctx.broker.channels() if ch.connection == connection_id])


async def channel(request: web.Request) -> web.Response:
    """One channel, named as RabbitMQ names it (``<connection name> (<number>)``), with its
    consumers; ``publishes`` and ``deliveries`` are RabbitMQ's per-exchange and per-queue
    breakdowns, which it fills only in its ``detailed`` rates mode: empty here too."""
    ctx = context(request)
    name = request.match_info["name"]
    index = connection_index(ctx)
    for ch in ctx.broker.channels():
        listed = index.get(ch.connection)
        if listed is None or f"{listed['name']} ({ch.number})" != name:
            continue
        result = render.channel_json(ch, listed, ctx.stats)
        result["consumer_details"] = [
            render.consumer_json(c, listed) for c in ctx.broker.consumers()
            if c.connection == ch.connection and c.channel == ch.number]
        result["deliveries"] = []
        result["publishes"] = []
        return reply(request, result)
    raise not_found()


async def consumers(request: web.Request) -> web.Response:
    ctx = context(request)
    wanted = set(_vhosts(request, authorise=False))  # RabbitMQ does not refuse this one
    index = connection_index(ctx)
    return reply(request, [render.consumer_json(c, index[c.connection])
                           for c in ctx.broker.consumers()
                           if c.vhost in wanted and c.connection in index])


# -- msgbus's own: the routing explanation, the rate history, the page ---------------------


async def explain_route(request: web.Request) -> web.Response:
    """``/msgbus/explain?vhost=/&exchange=X&routing_key=K[&headers=a=1,b=2]``: which of the
    exchange's bindings the key (and headers) matches, and why, step by step."""
    ctx = context(request)
    vhost = request.query.get("vhost", "/")
    if vhost not in ctx.broker.vhosts():
        raise not_found()
    found = find_exchange(ctx.broker, vhost, exchange_name(request.query.get("exchange", "")))
    routing_key = request.query.get("routing_key", "")
    try:
        headers = parse_table(request.query.get("headers", ""))
    except ValueError as error:
        raise bad_request(f"headers: {error}") from None
    listed = [b for b in ctx.broker.bindings(vhost) if b.source == found.name]
    if found.type not in EXCHANGE_TYPES:
        raise bad_request(f"exchange type {found.type!r} cannot be explained")
    result = explain(found.type, [(b.routing_key, b.arguments) for b in listed], routing_key,
                     headers if found.type == "headers" else None)
    return web.json_response({
        "exchange": found.name, "type": found.type, "routing_key": routing_key,
        "bindings": [{"number": e.number, "routing_key": e.routing_key,
                      "arguments": render.jsonable(e.arguments),
                      "destination": b.destination, "destination_type": b.destination_kind,
                      "matches": e.matches, "steps": list(e.steps)}
                     for b, e in zip(listed, result.bindings, strict=True)],
        "destinations": sorted({b.destination for b, e in zip(listed, result.bindings, strict=True)
                                if e.matches}),
        "text": result.text(),
    })


async def history(request: web.Request) -> web.Response:
    """The broker-wide publish / deliver / ack rates between samples, for the chart."""
    stats = context(request).stats
    return web.json_response({
        "interval": stats.interval,
        "points": stats.history(GLOBAL, ("publish", "deliver_get", "ack")),
    })


async def page(request: web.Request) -> web.StreamResponse:
    return await asset_named("index.html")


async def asset(request: web.Request) -> web.StreamResponse:
    return await asset_named(request.match_info["file"])


async def asset_named(name: str) -> web.StreamResponse:
    if name not in ASSETS:
        raise not_found()
    body = (STATIC / name).read_bytes()
    return web.Response(body=body, content_type=ASSETS[name],
                        headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    get = app.router.add_get
    get("/", page)
    get("/static/{file}", asset)
    get("/api/overview", overview)
    get("/api/vhosts", vhosts)
    get("/api/vhosts/{vhost}", administrators_only(vhost))
    get("/api/whoami", whoami)
    get("/api/queues", queues)
    get("/api/queues/{vhost}", queues)
    get("/api/queues/{vhost}/{name}", queue)
    get("/api/queues/{vhost}/{name}/bindings", queue_bindings)
    get("/api/exchanges", exchanges)
    get("/api/exchanges/{vhost}", exchanges)
    get("/api/exchanges/{vhost}/{name}", exchange)
    get("/api/exchanges/{vhost}/{name}/bindings/source", _exchange_bindings("source"))
    get("/api/exchanges/{vhost}/{name}/bindings/destination",
        _exchange_bindings("destination"))
    get("/api/bindings", bindings)
    get("/api/bindings/{vhost}", bindings)
    get("/api/bindings/{vhost}/e/{source}/{kind:[qe]}/{destination}", binding_list)
    get("/api/bindings/{vhost}/e/{source}/{kind:[qe]}/{destination}/{props}", binding)
    get("/api/connections", connections)
    get("/api/connections/{name}", connection)
    get("/api/connections/{name}/channels", connection_channels)
    get("/api/channels", channels)
    get("/api/channels/{name}", channel)
    get("/api/consumers", consumers)
    get("/api/consumers/{vhost}", consumers)
    get("/msgbus/explain", explain_route)
    get("/msgbus/history", history)
