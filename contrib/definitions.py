"""RabbitMQ definitions (``definitions.json``) imported into an in-process broker, without
the management HTTP API: users with their password hashes, vhosts, permissions, exchanges,
queues and bindings, as RabbitMQ 3.10 imports them.

``load_definitions(broker, path_or_mapping)`` imports a file (or its parsed JSON) as
``rabbitmqctl import_definitions`` does; with ``boot=True`` a fresh broker ends up as a
RabbitMQ node that booted with ``load_definitions = FILE`` in its rabbitmq.conf: such a node
never makes the default ``guest`` user and ``/`` vhost, so only the file's users and vhosts
exist. ``import_definitions`` is the import itself (``POST /api/definitions`` calls it).

Every entry is checked against the broker and the rest of the file before anything changes;
a refused entry raises :class:`DefinitionsError` (a ``ValidationError``) naming the entry
(``permissions[2] (user 'bob', vhost 'shop')``) and what is wrong with it. Only arguments
that the broker refuses when it declares a queue or exchange (``x-max-length: "ten"``) are
found after the users, vhosts, permissions and earlier entries are in.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from msgbus.errors import AMQPError, ValidationError
from transports.memory import Broker, Channel
from transports.memory.access import HASHING_ALGORITHM, check_permissions

__all__ = [
    "RABBITMQ_VERSION",
    "DefinitionsError",
    "export_definitions",
    "import_definitions",
    "jsonable",
    "load_definitions",
    "parse_tags",
]

#: The RabbitMQ release whose definitions (and management API) these follow.
RABBITMQ_VERSION = "3.10.8"

#: Opens a channel on a vhost for the broker's own declarations, closed on exit.
OpenChannel = Callable[[str], AbstractContextManager[Channel]]
UserEntry = tuple[str, str | None, tuple[str, ...], str | None, str]
KINDS = ("exchanges", "queues", "bindings")


class DefinitionsError(ValidationError):
    """A definitions file, or one of its entries, that the broker refuses. ``entry`` names
    the entry (``""``: the file as a whole); ``reason`` is RabbitMQ's reason for it, as its
    management API answers it (a string, or a list such as ``["no_such_user", "bob"]``);
    ``words`` say it when the reason holds what the message must not (a password)."""

    def __init__(self, reason: object, entry: str = "", *, words: str | None = None) -> None:
        self.reason = reason
        self.entry = entry
        if words is None:
            words = (f"{reason[0]} " + ", ".join(repr(part) for part in reason[1:])
                     if isinstance(reason, list) and reason else str(reason))
        self.words = words
        super().__init__(f"{entry}: {words}" if entry else words)

    def at(self, entry: str) -> DefinitionsError:
        """The same refusal, naming ``entry`` (unless it already names one)."""
        return self if self.entry else DefinitionsError(self.reason, entry, words=self.words)


def jsonable(value: Any) -> Any:
    """An AMQP field value (bytes, Decimal, datetime, nested tables) as JSON data."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    return value


def export_definitions(broker: Broker) -> dict[str, Any]:
    """The broker's definitions as RabbitMQ 3.10 exports them (``rabbitmqctl
    export_definitions``, ``GET /api/definitions``): users with their password hashes,
    vhosts, permissions, and the exchanges, queues and bindings a node would keep
    (exclusive queues, the default and ``amq.*`` exchanges are left out)."""
    vhosts = broker.vhosts()
    users = [user for user in map(broker.user, broker.users()) if user is not None]
    return {
        "rabbit_version": RABBITMQ_VERSION,
        "rabbitmq_version": RABBITMQ_VERSION,
        "product_name": "msgbus",
        "product_version": RABBITMQ_VERSION,
        "users": [{"name": user.name, "password_hash": user.password_hash,
                   "hashing_algorithm": user.hashing_algorithm, "tags": list(user.tags),
                   "limits": {}} for user in users],
        "vhosts": [{"name": vhost} for vhost in vhosts],
        "permissions": [{"user": p.user, "vhost": p.vhost, "configure": p.configure,
                         "write": p.write, "read": p.read} for p in broker.permissions()],
        "topic_permissions": [],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [{"name": q.name, "vhost": q.vhost, "durable": q.durable,
                    "auto_delete": q.auto_delete, "arguments": jsonable(q.arguments)}
                   for vhost in vhosts for q in broker.queues(vhost) if not q.exclusive],
        "exchanges": [{"name": x.name, "vhost": x.vhost, "type": x.type, "durable": x.durable,
                       "auto_delete": x.auto_delete, "internal": x.internal,
                       "arguments": jsonable(x.arguments)}
                      for vhost in vhosts for x in broker.exchanges(vhost)
                      if x.name and not x.name.startswith("amq.")],
        "bindings": [{"source": b.source, "vhost": b.vhost, "destination": b.destination,
                      "destination_type": b.destination_kind, "routing_key": b.routing_key,
                      "arguments": jsonable(b.arguments)}
                     for vhost in vhosts for b in broker.bindings(vhost) if b.source],
    }


# -- reading an entry (the reasons are RabbitMQ's, as POST /api/definitions answers) -----


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise DefinitionsError(["not_boolean", value])


def _table(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise DefinitionsError(f"{name} must be a JSON object, got {json.dumps(value)}")
    return value


def _text(body: Mapping[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise DefinitionsError(f"{name} must be a string, got {json.dumps(value)}")
    return value


def _require(body: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in body]
    if missing:
        raise DefinitionsError(
            "[" + ",".join(f"{{key_missing,{name}}}" for name in missing) + "]")


def parse_tags(body: Mapping[str, Any]) -> tuple[str, ...]:
    """``tags`` as a comma-separated string or a list of strings, as RabbitMQ takes them."""
    if "tags" not in body:
        raise DefinitionsError("tags_not_present")
    value = body["tags"]
    if isinstance(value, str):
        return tuple(tag.strip() for tag in value.split(",") if tag.strip())
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return tuple(value)
    raise DefinitionsError(f"tags must be a string or a list of strings, got {value!r}")


def _entries(body: Mapping[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
    """The entries of ``section``, each with the words that name it in an error."""
    entries = body.get(section, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DefinitionsError(f"{section} must be a list of JSON objects", section)
    return [(_label(section, index, entry), entry) for index, entry in enumerate(entries)]


def _label(section: str, index: int, entry: Mapping[str, Any]) -> str:
    where = f"{section}[{index}]"
    vhost = entry.get("vhost", "/")
    if section == "permissions":
        return f"{where} (user {entry.get('user')!r}, vhost {vhost!r})"
    if section == "bindings":
        return (f"{where} ({entry.get('source')!r} -> {entry.get('destination')!r} in vhost "
                f"{vhost!r})")
    if section in KINDS:
        return f"{where} {entry.get('name')!r} in vhost {vhost!r}"
    return f"{where} {entry.get('name')!r}"


@contextmanager
def _naming(entry: str) -> Iterator[None]:
    try:
        yield
    except DefinitionsError as error:
        raise error.at(entry) from None


# -- the import ---------------------------------------------------------------------------


def import_definitions(broker: Broker, definitions: Mapping[str, Any], *,
                       importer: str | None = None,
                       open_channel: OpenChannel | None = None) -> None:
    """Import users (with their password hashes and tags), vhosts, permissions, exchanges,
    queues and bindings, as RabbitMQ imports them (topic permissions, policies and
    parameters are not imported: the in-process broker has no such things). A new vhost
    grants ``importer`` (the user importing over the management API; None: nobody, as
    ``rabbitmqctl import_definitions`` and a boot import) every permission in it, before
    the file's permissions apply. The topology is declared by the broker itself, on a
    system connection (``open_channel`` opens another kind). Every entry is checked
    against the broker and the rest of the import first, so that a refused import changes
    nothing (but for arguments refused only when declared: see the module's notes);
    :class:`DefinitionsError` names the entry refused."""
    users = []
    for where, entry in _entries(definitions, "users"):
        with _naming(where):
            users.append(_user(entry))
    vhosts = []
    for where, entry in _entries(definitions, "vhosts"):
        with _naming(where):
            vhosts.append(_text(entry, "name"))
    known = set(broker.vhosts()) | set(vhosts)
    permissions = []
    for where, entry in _entries(definitions, "permissions"):
        with _naming(where):
            permissions.append(
                _permission(entry, set(broker.users()) | {u[0] for u in users}, known))
    plan = [(kind, where, entry) for kind in KINDS
            for where, entry in _entries(definitions, kind)]
    declared = set()
    for kind, where, entry in plan:
        if kind != "bindings":
            with _naming(where):
                declared.add((kind[:-1], _text(entry, "vhost", "/"), _text(entry, "name")))
    for kind, where, entry in plan:
        with _naming(where):
            vhost = _text(entry, "vhost", "/")
            if vhost not in known:
                raise DefinitionsError(f"vhost_not_found: {vhost}")
            _check_entry(broker, kind, vhost, entry, declared)
    for name, password, tags, hashed, algorithm in users:
        broker.add_user(name, password, tags=tags, password_hash=hashed,
                        hashing_algorithm=algorithm)
    for vhost in vhosts:
        if vhost not in broker.vhosts():
            broker.add_vhost(vhost, grant=importer)
    for user, vhost, configure, write, read in permissions:
        broker.set_permissions(user, vhost, configure, write, read)
    for kind, where, entry in plan:
        vhost = _text(entry, "vhost", "/")
        try:
            with (open_channel or _system_channel(broker))(vhost) as channel:
                _define(channel, kind, entry)
        except (AMQPError, ValidationError) as error:
            words = getattr(error, "reply_text", None) or str(error)
            raise DefinitionsError(words, where) from error


def _system_channel(broker: Broker) -> OpenChannel:
    @contextmanager
    def open_channel(vhost: str) -> Iterator[Channel]:
        connection = broker.connect_as_system(vhost, name="definitions")
        try:
            yield connection.channel()
        finally:
            if connection.is_open:
                connection.close()
    return open_channel


def _user(entry: Mapping[str, Any]) -> UserEntry:
    """(name, password, tags, password_hash, hashing_algorithm) of a user's entry: a
    ``password_hash`` (base64, ``""`` for none) or a plain ``password``; neither: a user
    no password logs in as."""
    if "name" not in entry:
        raise DefinitionsError(["badkey", "name"])
    name = _text(entry, "name")
    tags = parse_tags(entry)
    algorithm = _text(entry, "hashing_algorithm", HASHING_ALGORITHM)
    if "password_hash" in entry:
        hashed = _text(entry, "password_hash")
        try:
            base64.b64decode(hashed, validate=True)
        except (binascii.Error, ValueError):
            raise DefinitionsError(["not_base64", hashed],
                                   words="not_base64: password_hash is not base64") from None
        return name, None, tags, hashed, algorithm
    password = entry.get("password")
    if password is not None and not isinstance(password, str):
        # never the value itself, not even to the one who sent it (it is a password)
        raise DefinitionsError(f"password must be a string, got a JSON "
                               f"{type(password).__name__}")
    return name, password, tags, None, algorithm


def _permission(entry: Mapping[str, Any], users: set[str], vhosts: set[str]
                ) -> tuple[str, str, str, str, str]:
    _require(entry, "user", "vhost", "configure", "write", "read")
    user, vhost = _text(entry, "user"), _text(entry, "vhost")
    if user not in users:
        raise DefinitionsError(["no_such_user", user])
    if vhost not in vhosts:
        raise DefinitionsError(["no_such_vhost", vhost])
    configure, write, read = (_text(entry, kind) for kind in ("configure", "write", "read"))
    try:
        check_permissions(user, vhost, configure, write, read)
    except ValidationError as error:
        raise DefinitionsError(str(error)) from None
    return user, vhost, configure, write, read


def _check_entry(broker: Broker, kind: str, vhost: str, entry: Mapping[str, Any],
                 declared: set[tuple[str, str, str]]) -> None:
    """Refuse an entry the broker would refuse halfway through the import."""
    arguments = _table(entry, "arguments")
    durable, auto_delete = _flag(entry, "durable"), _flag(entry, "auto_delete")
    if kind == "bindings":
        ends = [("exchange", _text(entry, "source"))]
        destination_type = _text(entry, "destination_type", "queue")
        if destination_type not in ("queue", "exchange"):
            raise DefinitionsError(f"destination_type must be queue or exchange, got "
                                   f"{json.dumps(destination_type)}")
        ends.append((destination_type, _text(entry, "destination")))
        _text(entry, "routing_key")
        for what, name in ends:
            exists = (broker.queue(name, vhost) is not None if what == "queue" else
                      name == "" or any(x.name == name for x in broker.exchanges(vhost)))
            if not exists and (what, vhost, name) not in declared:
                raise DefinitionsError(f"no {what} '{name}' in vhost '{vhost}' for a binding")
        return
    name = _text(entry, "name")
    if not name:
        raise DefinitionsError(f"{kind} need a name")
    if kind == "queues":
        queue = broker.queue(name, vhost)
        if queue is not None and (queue.durable, queue.auto_delete, dict(queue.arguments)) \
                != (durable, auto_delete, arguments):
            raise DefinitionsError(
                f"inequivalent definition of queue '{name}' in vhost '{vhost}'")
        return
    kind_of = _text(entry, "type", "direct")
    internal = _flag(entry, "internal")
    if kind_of not in ("direct", "fanout", "topic", "headers"):
        raise DefinitionsError(f"unknown exchange type '{kind_of}'")
    for x in broker.exchanges(vhost):
        if x.name == name and (x.type, x.durable, x.auto_delete, x.internal,
                               dict(x.arguments)) \
                != (kind_of, durable, auto_delete, internal, arguments):
            raise DefinitionsError(
                f"inequivalent definition of exchange '{name}' in vhost '{vhost}'")


def _define(channel: Channel, kind: str, entry: Mapping[str, Any]) -> None:
    arguments = _table(entry, "arguments")
    if kind == "exchanges":
        channel.exchange_declare(_text(entry, "name"), _text(entry, "type", "direct"),
                                 durable=_flag(entry, "durable"),
                                 auto_delete=_flag(entry, "auto_delete"),
                                 internal=_flag(entry, "internal"), arguments=arguments)
    elif kind == "queues":
        channel.queue_declare(_text(entry, "name"), durable=_flag(entry, "durable"),
                              auto_delete=_flag(entry, "auto_delete"), arguments=arguments)
    elif _text(entry, "destination_type", "queue") == "queue":
        channel.queue_bind(_text(entry, "destination"), _text(entry, "source"),
                           _text(entry, "routing_key"), arguments)
    else:
        channel.exchange_bind(_text(entry, "destination"), _text(entry, "source"),
                              _text(entry, "routing_key"), arguments)


# -- from a file, and at boot ---------------------------------------------------------------


def load_definitions(broker: Broker,
                     source: str | os.PathLike[str] | Mapping[str, Any], *,
                     boot: bool = False) -> None:
    """Import a definitions file (a path) or its JSON object (a mapping) into ``broker``,
    as ``rabbitmqctl import_definitions`` does. ``boot=True`` (what ``msgbus serve
    --definitions`` does): ``broker`` must be fresh, and ends up as a RabbitMQ node that
    booted with ``load_definitions`` in its configuration, with none of the default
    ``guest`` user and ``/`` vhost but those the file defines. Raises
    :class:`DefinitionsError` naming the file and the entry refused; a file that cannot be
    read or is not a JSON object changes nothing."""
    definitions = source if isinstance(source, Mapping) else _read(source)
    where = "" if isinstance(source, Mapping) else os.fspath(source)
    if boot:
        _forget_defaults(broker)
    try:
        import_definitions(broker, definitions)
    except DefinitionsError as error:
        if boot:
            _restore_defaults(broker)
        if not where:
            raise
        entry = f"{where}: {error.entry}" if error.entry else where
        raise DefinitionsError(error.reason, entry, words=error.words) from None


def _read(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            data = json.loads(file.read())
    except OSError as error:
        raise DefinitionsError(f"cannot read the file: {error.strerror or error}",
                               name) from None
    except ValueError as error:  # not UTF-8, or not JSON
        raise DefinitionsError(f"not JSON: {error}", name) from None
    if not isinstance(data, dict):
        raise DefinitionsError(f"must hold a JSON object, got {type(data).__name__}", name)
    return data


def _forget_defaults(broker: Broker) -> None:
    """Take away what a broker is made with (the ``guest`` user and the ``/`` vhost), which
    RabbitMQ does not make when it boots with definitions to load; only on a broker that
    holds nothing else yet."""
    default_exchanges = {x.name for x in Broker().exchanges("/")}
    fresh = (broker.users() == ["guest"] and broker.vhosts() == ["/"]
             and not broker.queues("/")
             and {x.name for x in broker.exchanges("/")} <= default_exchanges)
    if not fresh:
        raise DefinitionsError(
            "loading definitions at boot needs a fresh broker (only its default guest user "
            f"and / vhost), got users {broker.users()}, vhosts {broker.vhosts()}, queues "
            f"{[q.name for q in broker.queues('/')]} and exchanges "
            f"{sorted(x.name for x in broker.exchanges('/'))} in /")
    broker.delete_vhost("/")
    broker.delete_user("guest")


def _restore_defaults(broker: Broker) -> None:
    if "guest" not in broker.users():
        broker.add_user("guest", "guest", tags=("administrator",))
    if "/" not in broker.vhosts():
        broker.add_vhost("/", grant="guest")
