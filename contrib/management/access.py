"""Users, permissions and virtual hosts: ``/api/users``, ``/api/permissions``,
``PUT`` / ``DELETE /api/vhosts/{vhost}``, the per-user and per-vhost permission lists, and
``GET`` / ``POST /api/definitions`` (:mod:`contrib.definitions` over HTTP), with RabbitMQ
3.10's bodies and status codes (201 for a new object, 204 for a changed or deleted one, 404
``Object Not Found``, 400 with RabbitMQ's reason)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from contrib.definitions import (
    DefinitionsError,
    export_definitions,
    import_definitions,
    parse_tags,
)
from contrib.management.actions import body_of, client, require, text
from contrib.management.api import (
    CONTEXT,
    administrators_only,
    context,
    credentials,
    reply,
    vhost_of,
)
from contrib.management.errors import bad_request, not_found
from msgbus.errors import ValidationError
from transports.memory import Broker, PermissionSnapshot, UserSnapshot

__all__ = ["add_routes", "tags_of"]


def user_json(user: UserSnapshot) -> dict[str, Any]:
    return {"name": user.name, "password_hash": user.password_hash,
            "hashing_algorithm": user.hashing_algorithm, "tags": list(user.tags),
            "limits": {}}


def permission_json(permission: PermissionSnapshot) -> dict[str, Any]:
    return {"user": permission.user, "vhost": permission.vhost,
            "configure": permission.configure, "write": permission.write,
            "read": permission.read}


def _broker(request: web.Request) -> Broker:
    return request.app[CONTEXT].broker


def _find_user(broker: Broker, name: str) -> UserSnapshot:
    found = broker.user(name)
    if found is None:
        raise not_found()
    return found


def tags_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    """``tags`` as a comma-separated string or a list of strings, as RabbitMQ takes them."""
    try:
        return parse_tags(body)
    except DefinitionsError as error:
        raise bad_request(error.reason) from None


# -- users --------------------------------------------------------------------------------


async def users(request: web.Request) -> web.Response:
    broker = context(request).broker
    return reply(request, [user_json(_find_user(broker, name)) for name in broker.users()])


async def users_without_permissions(request: web.Request) -> web.Response:
    broker = context(request).broker
    granted = {p.user for p in broker.permissions()}
    return reply(request, [user_json(_find_user(broker, name)) for name in broker.users()
                           if name not in granted])


async def user(request: web.Request) -> web.Response:
    broker = context(request).broker
    return reply(request, user_json(_find_user(broker, request.match_info["user"])))


async def put_user(request: web.Request) -> web.Response:
    """Create or change a user: ``{"password": ..., "tags": "a,b"}``; without a password
    the user cannot log in with one (as with RabbitMQ's ``password_hash: ""``)."""
    broker = _broker(request)
    name = request.match_info["user"]
    body = await body_of(request)
    tags = tags_of(body)
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise bad_request(f"password must be a string, got a JSON {type(password).__name__}")
    existed = broker.user(name) is not None
    broker.add_user(name, password, tags=tags)
    return web.Response(status=204 if existed else 201)


async def delete_user(request: web.Request) -> web.Response:
    if not _broker(request).delete_user(request.match_info["user"]):
        raise not_found()
    return web.Response(status=204)


async def bulk_delete_users(request: web.Request) -> web.Response:
    """``{"users": [...]}``: deleted in order; the first that does not exist stops the rest
    with 400 ``["no_such_user", name]``, as RabbitMQ does."""
    broker = _broker(request)
    body = await body_of(request)
    require(body, "users")
    names = body["users"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad_request(f"users must be a list of user names, got {names!r}")
    for name in names:
        if not broker.delete_user(name):
            raise bad_request(["no_such_user", name])
    return web.Response(status=204)


# -- permissions ----------------------------------------------------------------------------


async def permissions(request: web.Request) -> web.Response:
    return reply(request, [permission_json(p) for p in context(request).broker.permissions()])


async def user_permissions(request: web.Request) -> web.Response:
    broker = context(request).broker
    name = _find_user(broker, request.match_info["user"]).name
    return reply(request, [permission_json(p) for p in broker.permissions() if p.user == name])


async def vhost_permissions(request: web.Request) -> web.Response:
    broker = context(request).broker
    vhost = vhost_of(request)
    return reply(request, [permission_json(p) for p in broker.permissions()
                           if p.vhost == vhost])


def _find_permission(request: web.Request) -> PermissionSnapshot:
    broker = context(request).broker
    vhost = vhost_of(request)
    name = _find_user(broker, request.match_info["user"]).name
    for permission in broker.permissions():
        if permission.vhost == vhost and permission.user == name:
            return permission
    raise not_found()


async def permission(request: web.Request) -> web.Response:
    return reply(request, permission_json(_find_permission(request)))


async def put_permission(request: web.Request) -> web.Response:
    broker = _broker(request)
    vhost, name = request.match_info["vhost"], request.match_info["user"]
    body = await body_of(request)
    require(body, "configure", "write", "read")
    patterns = [text(body, kind) for kind in ("configure", "write", "read")]
    if vhost not in broker.vhosts() or broker.user(name) is None:
        raise bad_request("vhost_or_user_not_found")
    existed = any(p.vhost == vhost and p.user == name for p in broker.permissions())
    try:
        broker.set_permissions(name, vhost, *patterns)
    except ValidationError as error:
        raise bad_request(str(error)) from None
    return web.Response(status=204 if existed else 201)


async def delete_permission(request: web.Request) -> web.Response:
    found = _find_permission(request)
    _broker(request).clear_permissions(found.user, found.vhost)
    return web.Response(status=204)


# -- virtual hosts --------------------------------------------------------------------------


async def put_vhost(request: web.Request) -> web.Response:
    """Create a vhost (its creator is granted every permission in it, as RabbitMQ's API
    grants them); 204 for one that exists."""
    broker = _broker(request)
    name = request.match_info["vhost"]
    await body_of(request)  # malformed JSON is refused even though nothing in it is used
    if name in broker.vhosts():
        return web.Response(status=204)
    username, _ = credentials(request)
    broker.add_vhost(name, grant=username)
    return web.Response(status=201)


async def delete_vhost(request: web.Request) -> web.Response:
    if not _broker(request).delete_vhost(vhost_of(request)):
        raise not_found()
    return web.Response(status=204)


async def get_definitions(request: web.Request) -> web.Response:
    return web.json_response(export_definitions(_broker(request)))


async def post_definitions(request: web.Request) -> web.Response:
    """Import the body as :func:`contrib.definitions.import_definitions` does, a new vhost
    granting the importing user; a refused entry is a 400 with RabbitMQ's reason."""
    body = await body_of(request)
    importer, _ = credentials(request)
    try:
        import_definitions(_broker(request), body, importer=importer,
                           open_channel=lambda vhost: client(request, vhost, as_system=True))
    except DefinitionsError as error:
        raise bad_request(error.reason) from None
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/definitions", administrators_only(get_definitions))
    router.add_post("/api/definitions", administrators_only(post_definitions))
    router.add_get("/api/users", administrators_only(users))
    router.add_get("/api/users/without-permissions", administrators_only(users_without_permissions))
    router.add_post("/api/users/bulk-delete", administrators_only(bulk_delete_users))
    router.add_get("/api/users/{user}", administrators_only(user))
    router.add_put("/api/users/{user}", administrators_only(put_user))
    router.add_delete("/api/users/{user}", administrators_only(delete_user))
    router.add_get("/api/users/{user}/permissions", administrators_only(user_permissions))
    router.add_get("/api/permissions", administrators_only(permissions))
    router.add_get("/api/permissions/{vhost}/{user}", administrators_only(permission))
    router.add_put("/api/permissions/{vhost}/{user}", administrators_only(put_permission))
    router.add_delete("/api/permissions/{vhost}/{user}", administrators_only(delete_permission))
    router.add_get("/api/vhosts/{vhost}/permissions", administrators_only(vhost_permissions))
    router.add_put("/api/vhosts/{vhost}", administrators_only(put_vhost))
    router.add_delete("/api/vhosts/{vhost}", administrators_only(delete_vhost))
