"""The acting half of the API: declare and delete queues, exchanges and bindings, purge,
get, publish, export and import definitions.

Each request acts as a client would: it opens a connection to the broker as the request's
user, on the path's vhost, and calls the AMQP methods on a channel. Everything a request
carries is checked before the broker is touched, so a refused request changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from aiohttp import web

from contrib.management import render
from contrib.management.api import (
    CONTEXT,
    authorise_vhost,
    binding_ends,
    context,
    credentials,
    exchange_name,
    find_connection,
    find_exchange,
    find_queue,
    vhost_of,
)
from contrib.management.errors import ApiError, bad_request, compact_json, not_found
from msgbus.errors import (
    AccessRefused,
    AMQPError,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    ValidationError,
)
from msgbus.values import Delivery, Properties
from transports.memory import Broker, Channel

__all__ = ["add_routes", "client"]

ACK_MODES = {  # ackmode -> (no_ack, requeue)
    "ack_requeue_true": (False, True),
    "ack_requeue_false": (True, False),
    "reject_requeue_true": (False, True),
    "reject_requeue_false": (False, False),
}
PROPERTY_NAMES = frozenset(
    ("content_type", "content_encoding", "headers", "delivery_mode", "priority",
     "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type",
     "user_id", "app_id", "cluster_id"))


# -- reading a request -----------------------------------------------------------------


async def body_of(request: web.Request) -> dict[str, Any]:
    """The JSON object of the body (an empty body is ``{}``); 400 ``not_json`` otherwise."""
    text = await request.text()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise bad_request("not_json") from None
    if not isinstance(data, dict):
        raise bad_request("not_json")
    return data


def flag(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise bad_request(["not_boolean", value])


def table(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise bad_request(f"{name} must be a JSON object, got {json.dumps(value)}")
    return value


def text(body: Mapping[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string, got {json.dumps(value)}")
    return value


def require(body: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in body]
    if missing:
        raise bad_request("[" + ",".join(f"{{key_missing,{name}}}" for name in missing) + "]")


@contextmanager
def client(request: web.Request, vhost: str, *, as_system: bool = False,
           refused: Callable[[AccessRefused], ApiError] | None = None) -> Iterator[Channel]:
    """A channel on a connection of the request's user to ``vhost`` (``as_system``: of the
    broker itself, with every permission), closed afterwards; the broker's refusals become
    RabbitMQ's answers (``refused`` words a missing permission, 401 "Access refused."
    unless told)."""
    broker: Broker = request.app[CONTEXT].broker
    username, password = credentials(request)
    try:
        connection = (broker.connect_as_system(vhost, name="management") if as_system else
                      broker.connect(vhost, username=username, password=password,
                                     name="management"))
    except NotAllowed:  # no permissions in the vhost (an administrator's request)
        raise ApiError(401, "not_authorised", "Access refused.") from None
    try:
        yield connection.channel()
    except PreconditionFailed as error:
        raise bad_request(_explanation(error.reply_text)) from None
    except AccessRefused as error:
        if refused is not None:
            raise refused(error) from None
        raise ApiError(401, "not_authorised", "Access refused.") from None
    except NotFound as error:
        raise ApiError(404, "not_found", error.reply_text) from None
    except AMQPError as error:  # "COMMAND_INVALID - unknown exchange type 'x'"
        raise bad_request(_explanation(error.reply_text)) from None
    except ValidationError as error:
        raise bad_request(str(error)) from None
    finally:
        if connection.is_open:
            connection.close()


def _explanation(reply_text: str) -> str:
    """A reply text without its ``NAME - `` head, as RabbitMQ's API gives it."""
    head, sep, rest = reply_text.partition(" - ")
    return rest if sep and head.replace("_", "").isupper() else reply_text


# -- queues -------------------------------------------------------------------------------


def vhost_to_declare_in(request: web.Request) -> str:
    """The path's vhost; 404 ``vhost_not_found`` when the broker has no such vhost, 401
    when the user has no permissions in it."""
    vhost = request.match_info["vhost"]
    if vhost not in request.app[CONTEXT].broker.vhosts():
        raise ApiError(404, "not_found", "vhost_not_found")
    authorise_vhost(request, vhost)
    return vhost


async def put_queue(request: web.Request) -> web.Response:
    vhost = vhost_to_declare_in(request)
    body = await body_of(request)
    durable, auto_delete = flag(body, "durable"), flag(body, "auto_delete")
    arguments = table(body, "arguments")
    name = request.match_info["name"]
    existed = request.app[CONTEXT].broker.queue(name, vhost) is not None
    with client(request, vhost) as channel:
        channel.queue_declare(name, durable=durable, auto_delete=auto_delete,
                              arguments=arguments)
    return web.Response(status=204 if existed else 201)


async def delete_queue(request: web.Request) -> web.Response:
    vhost = vhost_of(request)
    name = find_queue(context(request).broker, vhost, request.match_info["name"]).name
    if_unused = request.query.get("if-unused") == "true"
    if_empty = request.query.get("if-empty") == "true"
    with client(request, vhost) as channel:
        channel.queue_delete(name, if_unused=if_unused, if_empty=if_empty)
    return web.Response(status=204)


async def purge(request: web.Request) -> web.Response:
    vhost = vhost_of(request)
    name = find_queue(context(request).broker, vhost, request.match_info["name"]).name
    with client(request, vhost) as channel:
        channel.queue_purge(name)
    return web.Response(status=204)


def _count(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise bad_request(f"count must be a number of messages, got {json.dumps(value)}")


def _truncate(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return _count(value)


def properties_json(properties: Properties) -> dict[str, Any] | list[Any]:
    """The properties that are set; ``[]`` when none is (as RabbitMQ writes it)."""
    result = {name: render.jsonable(getattr(properties, name)) for name in sorted(PROPERTY_NAMES)
              if getattr(properties, name) is not None}
    if "delivery_mode" in result:
        result["delivery_mode"] = int(result["delivery_mode"])
    return result or []


def message_json(delivery: Delivery, encoding: str, truncate: int | None) -> dict[str, Any]:
    payload = delivery.body if truncate is None else delivery.body[:truncate]
    as_text: str | None = None
    if encoding == "auto":
        try:
            as_text = payload.decode("utf-8")
        except UnicodeDecodeError:
            as_text = None
    return {
        "payload_bytes": len(delivery.body),
        "redelivered": delivery.redelivered,
        "exchange": delivery.exchange,
        "routing_key": delivery.routing_key,
        "message_count": delivery.message_count or 0,
        "properties": properties_json(delivery.properties),
        "payload": as_text if as_text is not None else base64.b64encode(payload).decode(),
        "payload_encoding": "string" if as_text is not None else "base64",
    }


async def get_messages(request: web.Request) -> web.Response:
    vhost = vhost_of(request)
    body = await body_of(request)
    name = request.match_info["name"]
    require(body, *(key for key in ("ackmode", "encoding") if key not in body))
    count = _count(body.get("count", 1))
    mode = body["ackmode"]
    if mode not in ACK_MODES:
        raise bad_request(f"ackmode must be one of {', '.join(ACK_MODES)}, got "
                          f"{json.dumps(mode)}")
    encoding = body["encoding"]
    if encoding not in ("auto", "base64"):
        raise bad_request(["unsupported_encoding", encoding])
    truncate = _truncate(body.get("truncate"))
    no_ack, requeue = ACK_MODES[mode]
    messages = []
    with client(request, vhost, refused=_reply_text) as channel:
        for _ in range(count):
            delivery = channel.basic_get(name, no_ack=no_ack)
            if delivery is None:
                break
            messages.append(message_json(delivery, encoding, truncate))
            if not no_ack and not requeue:
                channel.basic_reject(delivery.delivery_tag, requeue=False)
        if messages and not no_ack and requeue:
            channel.basic_nack(0, multiple=True, requeue=True)
    return web.json_response(messages, dumps=compact_json)


# -- exchanges ----------------------------------------------------------------------------


async def put_exchange(request: web.Request) -> web.Response:
    vhost = vhost_to_declare_in(request)
    body = await body_of(request)
    kind = text(body, "type", "direct")
    durable, auto_delete = flag(body, "durable"), flag(body, "auto_delete")
    internal = flag(body, "internal")
    arguments = table(body, "arguments")
    name = request.match_info["name"]
    broker = context(request).broker
    existed = any(x.name == name for x in broker.exchanges(vhost))
    with client(request, vhost) as channel:
        channel.exchange_declare(name, kind, durable=durable, auto_delete=auto_delete,
                                 internal=internal, arguments=arguments)
    return web.Response(status=204 if existed else 201)


async def delete_exchange(request: web.Request) -> web.Response:
    vhost = vhost_of(request)
    name = find_exchange(context(request).broker, vhost,
                         exchange_name(request.match_info["name"])).name
    if_unused = request.query.get("if-unused") == "true"
    with client(request, vhost) as channel:
        channel.exchange_delete(name, if_unused=if_unused)
    return web.Response(status=204)


def properties_of(value: Any) -> Properties:
    if value == []:
        value = {}
    if not isinstance(value, dict):
        raise bad_request(f"properties must be a JSON object, got {json.dumps(value)}")
    unknown = sorted(set(value) - PROPERTY_NAMES)
    if unknown:
        raise bad_request(f"unknown message properties: {', '.join(unknown)}")
    fields = dict(value)
    for name in ("delivery_mode", "priority", "timestamp"):
        if name in fields and not (isinstance(fields[name], int)
                                   and not isinstance(fields[name], bool)):
            raise bad_request(f"property {name} must be a number, got "
                              f"{json.dumps(fields[name])}")
    for name in PROPERTY_NAMES - {"delivery_mode", "priority", "timestamp", "headers"}:
        if name in fields and not isinstance(fields[name], str):
            raise bad_request(f"property {name} must be a string, got "
                              f"{json.dumps(fields[name])}")
    if "headers" in fields and not isinstance(fields["headers"], dict):
        raise bad_request("property headers must be a JSON object")
    return Properties(**fields)


def _channel_error(error: AMQPError) -> ApiError:
    return bad_request(f"{error.reply_code} {error.reply_text}")


def _reply_text(error: AccessRefused) -> ApiError:
    return ApiError(401, "not_authorised", error.reply_text)


async def publish(request: web.Request) -> web.Response:
    vhost = vhost_of(request)
    body = await body_of(request)
    require(body, "routing_key", "payload", "payload_encoding", "properties")
    routing_key = text(body, "routing_key")
    payload = text(body, "payload")
    encoding = body["payload_encoding"]
    if encoding == "string":
        data = payload.encode("utf-8")
    elif encoding == "base64":
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise bad_request(["invalid_base64", payload[:50]]) from None
    else:
        raise bad_request(["unsupported_encoding", encoding])
    properties = properties_of(body["properties"])
    name = exchange_name(request.match_info["name"])
    # RabbitMQ's API publishes on a channel: its errors come back as "CODE TEXT", 400
    with client(request, vhost, refused=_channel_error) as channel:
        channel.confirm_select()  # as RabbitMQ's API publishes: its confirm is counted
        try:
            result = channel.basic_publish(name, routing_key, data, properties,
                                           mandatory=True)
        except NotFound as error:
            raise _channel_error(error) from None
    return web.json_response({"routed": bool(result.routed) and not result.returned},
                             dumps=compact_json)


# -- bindings -----------------------------------------------------------------------------


async def post_binding(request: web.Request) -> web.Response:
    vhost = vhost_to_declare_in(request)
    source = exchange_name(request.match_info["source"])
    kind = "queue" if request.match_info["kind"] == "q" else "exchange"
    destination = request.match_info["destination"]
    if kind == "exchange":
        destination = exchange_name(destination)
    body = await body_of(request)
    routing_key = text(body, "routing_key")
    arguments = table(body, "arguments")
    # bound on a channel, as RabbitMQ binds: the permissions are checked before the ends
    with client(request, vhost) as channel:
        try:
            if kind == "queue":
                channel.queue_bind(destination, source, routing_key, arguments)
            else:
                channel.exchange_bind(destination, source, routing_key, arguments)
        except NotFound as error:
            raise ApiError(404, "not_found", _explanation(error.reply_text)) from None
    props = render.properties_key(routing_key, arguments)
    location = f"{quote(destination, safe='')}/{quote(props, safe='')}"
    return web.Response(status=201, headers={"Location": location})


async def delete_binding(request: web.Request) -> web.Response:
    vhost, source, kind, destination = binding_ends(request)
    props = request.match_info["props"]
    broker = context(request).broker
    for b in broker.bindings(vhost):
        if (b.source == source and b.destination_kind == kind and b.destination == destination
                and render.properties_key(b.routing_key, b.arguments) == props):
            break
    else:
        raise not_found()
    if not source:  # the default exchange's implicit binding
        raise ApiError(401, "not_authorised", "Access refused.")
    with client(request, vhost) as channel:
        if kind == "queue":
            channel.queue_unbind(destination, source, b.routing_key, b.arguments)
        else:
            channel.exchange_unbind(destination, source, b.routing_key, b.arguments)
    return web.Response(status=204)


async def delete_connection(request: web.Request) -> web.Response:
    """Close a client connection (``rabbitmqadmin close connection``): its client hears
    320 CONNECTION_FORCED with the ``X-Reason`` header's text."""
    ctx = context(request)
    connection_id, _ = find_connection(ctx, request.match_info["name"])
    ctx.broker.close_connection(
        connection_id, request.headers.get("X-Reason", "Closed via management plugin"))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_delete("/api/connections/{name}", delete_connection)
    router.add_put("/api/queues/{vhost}/{name}", put_queue)
    router.add_delete("/api/queues/{vhost}/{name}", delete_queue)
    router.add_delete("/api/queues/{vhost}/{name}/contents", purge)
    router.add_post("/api/queues/{vhost}/{name}/get", get_messages)
    router.add_put("/api/exchanges/{vhost}/{name}", put_exchange)
    router.add_delete("/api/exchanges/{vhost}/{name}", delete_exchange)
    router.add_post("/api/exchanges/{vhost}/{name}/publish", publish)
    router.add_post("/api/bindings/{vhost}/e/{source}/{kind:[qe]}/{destination}", post_binding)
    router.add_delete("/api/bindings/{vhost}/e/{source}/{kind:[qe]}/{destination}/{props}",
                      delete_binding)
