"""``GET`` and ``POST /api/definitions``: a broker's topology exported and imported in
RabbitMQ's format (``rabbitmqctl export_definitions`` / ``import_definitions``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from contrib.management import render
from contrib.management.access import tags_of
from contrib.management.actions import body_of, client, flag, require, table, text
from contrib.management.api import administrators_only, context, credentials
from contrib.management.errors import bad_request
from transports.memory import Broker, Channel
from transports.memory.access import HASHING_ALGORITHM

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


def _entries(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    entries = body.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise bad_request(f"{name} must be a list of JSON objects")
    return entries


async def post_definitions(request: web.Request) -> web.Response:
    """Import users (with their password hashes and tags), vhosts, permissions,
    exchanges, queues and bindings, as RabbitMQ imports them (topic permissions,
    policies and parameters are not imported: the in-process broker has no such things).
    A new vhost grants the importing user every permission in it, as RabbitMQ's import
    does, before the file's permissions apply; the topology is declared by the broker
    itself, whatever the importer's permissions. Every entry is checked against the
    broker and the rest of the import first, so that a refused import changes nothing."""
    body = await body_of(request)
    broker = context(request).broker
    users = [_user(entry) for entry in _entries(body, "users")]
    vhosts = [text(v, "name") for v in _entries(body, "vhosts")]
    known = set(broker.vhosts()) | set(vhosts)
    permissions = [_permission(entry, set(broker.users()) | {u[0] for u in users}, known)
                   for entry in _entries(body, "permissions")]
    plan = [(kind, entry) for kind in ("exchanges", "queues", "bindings")
            for entry in _entries(body, kind)]
    declared = {(kind[:-1], text(entry, "vhost", "/"), text(entry, "name"))
                for kind, entry in plan if kind != "bindings"}
    for kind, entry in plan:
        vhost = text(entry, "vhost", "/")
        if vhost not in known:
            raise bad_request(f"vhost_not_found: {vhost}")
        _check_entry(broker, kind, vhost, entry, declared)
    for name, password, tags, hashed, algorithm in users:
        broker.add_user(name, password, tags=tags, password_hash=hashed,
                        hashing_algorithm=algorithm)
    importer, _ = credentials(request)
    for vhost in vhosts:
        if vhost not in broker.vhosts():
            broker.add_vhost(vhost, grant=importer)
    for user, vhost, configure, write, read in permissions:
        broker.set_permissions(user, vhost, configure, write, read)
    for kind, entry in plan:
        with client(request, text(entry, "vhost", "/"), as_system=True) as channel:
            _define(channel, kind, entry)
    return web.Response(status=204)


UserEntry = tuple[str, str | None, tuple[str, ...], str | None, str]


def _user(entry: Mapping[str, Any]) -> UserEntry:
    """(name, password, tags, password_hash, hashing_algorithm) of a user's entry: a
    ``password_hash`` (base64, ``""`` for none) or a plain ``password``; neither: a user
    no password logs in as."""
    if "name" not in entry:
        raise bad_request(["badkey", "name"])
    name = text(entry, "name")
    tags = tags_of(entry)
    algorithm = text(entry, "hashing_algorithm", HASHING_ALGORITHM)
    if "password_hash" in entry:
        hashed = text(entry, "password_hash")
        try:
            base64.b64decode(hashed, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(["not_base64", hashed]) from None
        return name, None, tags, hashed, algorithm
    password = entry.get("password")
    if password is not None and not isinstance(password, str):
        raise bad_request(f"password must be a string, got {json.dumps(password)}")
    return name, password, tags, None, algorithm


def _permission(entry: Mapping[str, Any], users: set[str], vhosts: set[str]
                ) -> tuple[str, str, str, str, str]:
    require(entry, "user", "vhost", "configure", "write", "read")
    user, vhost = text(entry, "user"), text(entry, "vhost")
    if user not in users:
        raise bad_request(["no_such_user", user])
    if vhost not in vhosts:
        raise bad_request(["no_such_vhost", vhost])
    patterns = [text(entry, kind) for kind in ("configure", "write", "read")]
    for kind, pattern in zip(("configure", "write", "read"), patterns, strict=True):
        try:
            re.compile(pattern)
        except re.error as error:
            raise bad_request(f"{kind} permission of user {user!r} in vhost {vhost!r} must "
                              f"be a regular expression, got {pattern!r}: {error}") from None
    return user, vhost, patterns[0], patterns[1], patterns[2]


def _check_entry(broker: Broker, kind: str, vhost: str, entry: Mapping[str, Any],
                 declared: set[tuple[str, str, str]]) -> None:
    """Refuse (400) an entry the broker would refuse halfway through the import."""
    arguments = table(entry, "arguments")
    durable, auto_delete = flag(entry, "durable"), flag(entry, "auto_delete")
    if kind == "bindings":
        ends = [("exchange", text(entry, "source"))]
        destination_type = text(entry, "destination_type", "queue")
        if destination_type not in ("queue", "exchange"):
            raise bad_request(f"destination_type must be queue or exchange, got "
                              f"{json.dumps(destination_type)}")
        ends.append((destination_type, text(entry, "destination")))
        text(entry, "routing_key")
        for what, name in ends:
            exists = (broker.queue(name, vhost) is not None if what == "queue" else
                      name == "" or any(x.name == name for x in broker.exchanges(vhost)))
            if not exists and (what, vhost, name) not in declared:
                raise bad_request(f"no {what} '{name}' in vhost '{vhost}' for a binding")
        return
    name = text(entry, "name")
    if not name:
        raise bad_request(f"{kind} need a name")
    if kind == "queues":
        queue = broker.queue(name, vhost)
        if queue is not None and (queue.durable, queue.auto_delete, dict(queue.arguments)) \
                != (durable, auto_delete, arguments):
            raise bad_request(f"inequivalent definition of queue '{name}' in vhost '{vhost}'")
        return
    kind_of = text(entry, "type", "direct")
    internal = flag(entry, "internal")
    if kind_of not in ("direct", "fanout", "topic", "headers"):
        raise bad_request(f"unknown exchange type '{kind_of}'")
    for x in broker.exchanges(vhost):
        if x.name == name and (x.type, x.durable, x.auto_delete, x.internal,
                               dict(x.arguments)) \
                != (kind_of, durable, auto_delete, internal, arguments):
            raise bad_request(f"inequivalent definition of exchange '{name}' in vhost "
                              f"'{vhost}'")


def _define(channel: Channel, kind: str, entry: Mapping[str, Any]) -> None:
    arguments = table(entry, "arguments")
    if kind == "exchanges":
        channel.exchange_declare(text(entry, "name"), text(entry, "type", "direct"),
                                 durable=flag(entry, "durable"),
                                 auto_delete=flag(entry, "auto_delete"),
                                 internal=flag(entry, "internal"), arguments=arguments)
    elif kind == "queues":
        channel.queue_declare(text(entry, "name"), durable=flag(entry, "durable"),
                              auto_delete=flag(entry, "auto_delete"), arguments=arguments)
    elif text(entry, "destination_type", "queue") == "queue":
        channel.queue_bind(text(entry, "destination"), text(entry, "source"),
                           text(entry, "routing_key"), arguments)
    else:
        channel.exchange_bind(text(entry, "destination"), text(entry, "source"),
                              text(entry, "routing_key"), arguments)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/definitions", administrators_only(get_definitions))
    app.router.add_post("/api/definitions", administrators_only(post_definitions))
