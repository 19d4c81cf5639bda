"""``GET`` and ``POST /api/definitions``: a broker's topology exported and imported in
RabbitMQ's format (``rabbitmqctl export_definitions`` / ``import_definitions``)."""

from __future__ import annotations

from aiohttp import web

from contrib.definitions import DefinitionsError, import_definitions
from contrib.management import render
from contrib.management.actions import body_of, client
from contrib.management.api import administrators_only, context, credentials
from contrib.management.errors import bad_request

__all__ = ["add_routes"]


async def get_definitions(request: web.Request) -> web.Response:
    broker = context(request).broker
    vhosts = broker.vhosts()
    users = [{"name": user.name, "password_hash": user.password_hash,
              "hashing_algorithm": user.hashing_algorithm, "tags": list(user.tags),
              "limits": {}}
             for user in (broker.user(name) for name in broker.users()) if user is not None]
    return web.json_response({
        "rabbit_version": render.RABBITMQ_VERSION,
        "rabbitmq_version": render.RABBITMQ_VERSION,
        "product_name": "msgbus",
        "product_version": render.RABBITMQ_VERSION,
        "users": users,
        "vhosts": [{"name": vhost} for vhost in vhosts],
        "permissions": [{"user": p.user, "vhost": p.vhost, "configure": p.configure,
                         "write": p.write, "read": p.read} for p in broker.permissions()],
        "topic_permissions": [],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [{"name": q.name, "vhost": q.vhost, "durable": q.durable,
                    "auto_delete": q.auto_delete, "arguments": render.jsonable(q.arguments)}
                   for vhost in vhosts for q in broker.queues(vhost) if not q.exclusive],
        "exchanges": [{"name": x.name, "vhost": x.vhost, "type": x.type, "durable": x.durable,
                       "auto_delete": x.auto_delete, "internal": x.internal,
                       "arguments": render.jsonable(x.arguments)}
                      for vhost in vhosts for x in broker.exchanges(vhost)
                      if x.name and not x.name.startswith("amq.")],
        "bindings": [{"source": b.source, "vhost": b.vhost, "destination": b.destination,
                      "destination_type": b.destination_kind, "routing_key": b.routing_key,
                      "arguments": render.jsonable(b.arguments)}
                     for vhost in vhosts for b in broker.bindings(vhost) if b.source],
    })


async def post_definitions(request: web.Request) -> web.Response:
    """Import the body as :func:`contrib.definitions.import_definitions` does, a new vhost
    granting the importing user; a refused entry is a 400 with RabbitMQ's reason."""
    body = await body_of(request)
    importer, _ = credentials(request)
    try:
        import_definitions(context(request).broker, body, importer=importer,
                           open_channel=lambda vhost: client(request, vhost, as_system=True))
    except DefinitionsError as error:
        raise bad_request(error.reason) from None
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/definitions", administrators_only(get_definitions))
    app.router.add_post("/api/definitions", administrators_only(post_definitions))
