"""Users' permissions over the wire, on RabbitMQ 3.10 and on the embedded server alike: a
user made and granted through each server's management API, then every AMQP method that
needs a permission tried by real pika clients. What each attempt gives (its result, or the
code and text of the channel or connection error) must be the same on both servers.

A permission change is observed on a fresh channel of a connection that stays open:
RabbitMQ's channels cache a few recent checks for a while, so only a new channel sees a
change at once on both servers.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pika
import pika.exceptions
import pytest

from contrib.amqp_server import AmqpServer
from contrib.management import ManagementServer
from tests.contrib.amqp_server.wire import normalise
from tests.contrib.management.conftest import Http, rabbitmq_http
from transports.memory import Broker

__all__ = ["rabbitmq_http"]  # the fixture, imported for this module's tests

PASSWORD = "secret-p"
# the user may configure names that start with c, write those that start with w or c and
# read those that start with r or c
GRANTED = {"configure": "^c", "write": "^(w|c)", "read": "^(r|c)"}

Observed = list[tuple[Any, ...]]


class Server:
    """One server under test: its AMQP address and its management API (as guest)."""

    def __init__(self, amqp_url: str, http: Http) -> None:
        parts = urlsplit(amqp_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5672
        self.http = http

    def connect(self, vhost: str, user: str = "guest", password: str = "guest"
                ) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.ConnectionParameters(
            self.host, self.port, vhost, pika.PlainCredentials(user, password),
            connection_attempts=1, blocked_connection_timeout=None))

    def api(self, method: str, path: str, body: Any = None) -> int:
        return self.http(method, path, body).status


def _outcome(action: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", action())
    except pika.exceptions.ChannelClosedByBroker as error:
        return ("channel closed", error.reply_code, error.reply_text)
    except pika.exceptions.ConnectionClosedByBroker as error:
        return ("connection closed", error.reply_code, error.reply_text)
    except pika.exceptions.ProbableAccessDeniedError as error:
        return ("access denied", str(error))
    except pika.exceptions.ProbableAuthenticationError as error:
        return ("authentication", str(error))


def _scenario(server: Server, user: str, vhost: str) -> Observed:
    """Everything is made on the server afresh (a user, a vhost) and deleted afterwards."""
    v = quote(vhost, safe="")
    observed: Observed = []
    try:
        observed.append(("user", server.api("PUT", f"/api/users/{user}",
                                            {"password": PASSWORD, "tags": ""})))
        observed.append(("vhost", server.api("PUT", f"/api/vhosts/{v}", {})))
        admin = server.connect(vhost)  # guest created the vhost: it may use it
        setup = admin.channel()
        setup.confirm_delivery()
        for name in ("r-x", "w-x"):
            setup.exchange_declare(name, "fanout")
        for name in ("r-q", "w-q"):
            setup.queue_declare(name)
        setup.queue_declare("r-dead", arguments={"x-dead-letter-exchange": "r-x"})
        setup.queue_bind("r-q", "r-x")
        for body in (b"one", b"two"):
            setup.basic_publish("", "r-q", body)
        setup.basic_publish("", "r-dead", b"dies")

        # connection.open: no permissions yet, then a vhost that does not exist
        observed.append(_outcome(lambda: server.connect(vhost, user, PASSWORD)))
        observed.append(_outcome(lambda: server.connect(f"{vhost}-missing", user, PASSWORD)))
        observed.append(("grant", server.api("PUT", f"/api/permissions/{v}/{user}", GRANTED)))
        connection = server.connect(vhost, user, PASSWORD)

        def attempt(label: str, action: Callable[[pika.adapters.blocking_connection.
                                                   BlockingChannel], Any]) -> None:
            channel = connection.channel()
            observed.append((label, _outcome(lambda: action(channel))))
            if channel.is_open:
                channel.close()

        def declared(result: Any) -> tuple[Any, ...]:
            ok = result.method
            name = "amq.gen-*" if ok.queue.startswith("amq.gen-") else ok.queue
            return (name, ok.message_count, ok.consumer_count)

        attempt("exchange.declare allowed", lambda ch: ch.exchange_declare("c-x", "fanout")
                and None)
        attempt("exchange.declare refused", lambda ch: ch.exchange_declare("w-x2") and None)
        attempt("exchange.declare reserved", lambda ch: ch.exchange_declare("amq.c") and None)
        attempt("exchange.declare passive", lambda ch: ch.exchange_declare(
            "r-x", passive=True) and None)
        attempt("exchange.declare existing", lambda ch: ch.exchange_declare(
            "w-x", "fanout") and None)
        attempt("alternate-exchange not writable", lambda ch: ch.exchange_declare(
            "c-ae", arguments={"alternate-exchange": "r-x"}) and None)
        attempt("alternate-exchange writable", lambda ch: ch.exchange_declare(
            "c-ae2", arguments={"alternate-exchange": "w-x"}) and None)
        attempt("queue.declare allowed", lambda ch: declared(ch.queue_declare("c-q")))
        attempt("queue.declare refused", lambda ch: declared(ch.queue_declare("w-q2")))
        attempt("queue.declare existing", lambda ch: declared(ch.queue_declare("r-q")))
        attempt("queue.declare reserved", lambda ch: declared(ch.queue_declare("amq.q")))
        attempt("queue.declare passive", lambda ch: declared(ch.queue_declare(
            "r-q", passive=True)))
        attempt("dead-letter exchange not writable", lambda ch: declared(ch.queue_declare(
            "c-dl", arguments={"x-dead-letter-exchange": "r-x"})))
        attempt("dead-letter exchange writable", lambda ch: declared(ch.queue_declare(
            "c-dl2", arguments={"x-dead-letter-exchange": "c-x"})))
        attempt("direct reply-to", lambda ch: ch.basic_consume(
            "amq.rabbitmq.reply-to", lambda *_: None, auto_ack=True).startswith("ctag"))
        attempt("queue.bind allowed", lambda ch: ch.queue_bind("w-q", "r-x") and None)
        attempt("queue.bind queue not writable", lambda ch: ch.queue_bind("r-q", "c-x")
                and None)
        attempt("queue.bind exchange not readable", lambda ch: ch.queue_bind("c-q", "w-x")
                and None)
        attempt("queue.bind default exchange", lambda ch: ch.queue_bind("w-q", "") and None)
        attempt("queue.unbind allowed", lambda ch: ch.queue_unbind("w-q", "r-x") and None)
        attempt("queue.unbind refused", lambda ch: ch.queue_unbind("r-q", "r-x") and None)
        attempt("exchange.bind allowed", lambda ch: ch.exchange_bind("w-x", "r-x") and None)
        attempt("exchange.bind refused", lambda ch: ch.exchange_bind("r-x", "c-x") and None)
        attempt("exchange.unbind", lambda ch: ch.exchange_unbind("w-x", "r-x") and None)

        def publish(exchange: str) -> Callable[[Any], Any]:
            def run(ch: Any) -> Any:
                ch.confirm_delivery()
                ch.basic_publish(exchange, "r-q", b"published")
                return "confirmed"
            return run

        attempt("publish writable", publish("c-x"))
        attempt("publish not writable", publish("r-x"))
        attempt("publish default exchange", publish(""))
        attempt("publish missing exchange", publish("w-missing"))

        def get(queue: str) -> Callable[[Any], Any]:
            def run(ch: Any) -> Any:
                method, _, body = ch.basic_get(queue, auto_ack=True)
                return None if method is None else body
            return run

        attempt("basic.get readable", get("r-q"))
        attempt("basic.get not readable", get("w-q"))
        attempt("basic.get missing", get("r-missing"))
        attempt("basic.consume readable", lambda ch: ch.basic_consume(
            "r-q", lambda *_: None).startswith("ctag"))
        attempt("basic.consume not readable", lambda ch: ch.basic_consume(
            "w-q", lambda *_: None) and None)
        attempt("queue.purge readable", lambda ch: ch.queue_purge("r-q").method.message_count)
        attempt("queue.purge not readable", lambda ch: ch.queue_purge("w-q") and None)

        def dead_letter(ch: Any) -> Any:  # to r-x, which the user may not write to
            method, _, _ = ch.basic_get("r-dead")
            ch.basic_reject(method.delivery_tag, requeue=False)
            ch.queue_declare("c-q", passive=True)  # a round trip: the reject is done
            return setup.queue_declare("r-q", passive=True).method.message_count

        attempt("dead-lettering checks nothing", dead_letter)
        attempt("queue.delete refused", lambda ch: ch.queue_delete("w-q") and None)
        attempt("queue.delete missing", lambda ch: ch.queue_delete("w-missing") and None)
        attempt("queue.delete allowed", lambda ch: ch.queue_delete("c-q").method.message_count)
        attempt("exchange.delete refused", lambda ch: ch.exchange_delete("w-x") and None)
        attempt("exchange.delete missing", lambda ch: ch.exchange_delete("c-none") and None)
        attempt("exchange.delete allowed", lambda ch: ch.exchange_delete("c-x") and None)

        # the permissions change while the user's connection stays open
        observed.append(("regrant", server.api("PUT", f"/api/permissions/{v}/{user}",
                                               {**GRANTED, "read": ".*"})))
        attempt("basic.get after the change", get("w-q"))
        observed.append(("revoke", server.api("DELETE", f"/api/permissions/{v}/{user}")))
        attempt("basic.get after the revocation", get("r-q"))
        attempt("exchange.declare passive after the revocation", lambda ch: ch.
                exchange_declare("r-x", passive=True) and None)
        observed.append(("connection open", connection.is_open))
        observed.append(_outcome(lambda: server.connect(vhost, user, PASSWORD)))
        connection.close()
        admin.close()
    finally:
        server.api("DELETE", f"/api/users/{user}")
        server.api("DELETE", f"/api/vhosts/{v}")
    return normalise(observed)


@pytest.fixture
def embedded(msgbus_broker: Broker) -> Iterator[Server]:
    with AmqpServer(msgbus_broker, port=0) as amqp, \
            ManagementServer(msgbus_broker, port=0) as management:
        yield Server(amqp.url, Http(management.url))


@pytest.mark.rabbitmq
def test_permissions_are_enforced_as_rabbitmq_enforces_them(
        amqp_url: str, rabbitmq_http: Http, embedded: Server) -> None:
    tag = uuid.uuid4().hex[:10]
    user, vhost = f"msgbus-perm-{tag}", f"msgbus-perm-{tag}"
    theirs = _scenario(Server(amqp_url, rabbitmq_http), user, vhost)
    ours = _scenario(embedded, user, vhost)
    assert ours == theirs, "the embedded server (left) answers otherwise than RabbitMQ"
    assert ("basic.get not readable", (
        "channel closed", 403, f"ACCESS_REFUSED - access to queue 'w-q' in vhost '{vhost}' "
        f"refused for user '{user}'")) in ours


@pytest.mark.rabbitmq
def test_an_invalid_pattern_is_refused_when_set(rabbitmq_http: Http, embedded: Server) -> None:
    tag = uuid.uuid4().hex[:10]
    user = f"msgbus-perm-{tag}"
    answers = []
    for http in (rabbitmq_http, embedded.http):
        try:
            http("PUT", f"/api/users/{user}", {"password": PASSWORD, "tags": ""})
            reply = http("PUT", f"/api/permissions/%2F/{user}",
                         {"configure": "(", "write": "", "read": ""})
            answers.append((reply.status, reply.json()["error"],
                            http("GET", f"/api/permissions/%2F/{user}").status))
        finally:
            http("DELETE", f"/api/users/{user}")
    assert answers[0] == answers[1] == (400, "bad_request", 404)


def _outward_address() -> str:
    """An address of this machine that is not a loopback one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it picks the outgoing address
        except OSError:
            pytest.skip("this machine has no non-loopback address")
        address: str = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    return address


def test_guest_logs_in_from_loopback_only(msgbus_broker: Broker) -> None:
    """RabbitMQ's ``loopback_users``: guest is refused at login from anywhere else, with the
    text of any failed login (the real server's source, rabbit_reader's auth_fail); another
    user is not."""
    address = _outward_address()
    msgbus_broker.add_user("alice", "secret")
    msgbus_broker.set_permissions("alice", "/")
    with AmqpServer(msgbus_broker, host=address, port=0) as server:
        port = urlsplit(server.url).port

        def login(user: str, password: str) -> pika.BlockingConnection:
            return pika.BlockingConnection(pika.ConnectionParameters(
                address, port, "/", pika.PlainCredentials(user, password),
                connection_attempts=1))

        with pytest.raises(pika.exceptions.ProbableAuthenticationError) as refused:
            login("guest", "guest")
        assert "(403) 'ACCESS_REFUSED - Login was refused using authentication mechanism " \
               "PLAIN. For details see the broker logfile.'" in str(refused.value)
        connection = login("alice", "secret")
        assert connection.is_open
        connection.close()
    with AmqpServer(msgbus_broker, port=0) as local:
        connection = pika.BlockingConnection(pika.URLParameters(local.url))
        assert connection.is_open
        connection.close()


@pytest.mark.rabbitmq
def test_management_actions_need_the_users_permissions(rabbitmq_http: Http,
                                                       embedded: Server) -> None:
    """The management API acts as the requesting user: no permissions in the vhost (401
    before anything else, even for a queue or exchange that does not exist), permissions
    that do not cover the action (a declare, bind or delete: 401 "Access refused."; a
    publish: 400 with the channel error's code and text; a get: 401 with the reply text),
    then ones that do; last, an administrator without permissions in the vhost, whose
    actions are refused ("Access refused.") but whose missing objects are 404s."""
    tag = uuid.uuid4().hex[:10]
    user = f"msgbus-perm-{tag}"
    queue = f"c-{tag}"
    declare = ("PUT", f"/api/queues/%2F/{queue}", {})
    publish = ("POST", "/api/exchanges/%2F/amq.default/publish",
               {"properties": {}, "routing_key": queue, "payload": "x",
                "payload_encoding": "string"})
    get = ("POST", f"/api/queues/%2F/{queue}/get",
           {"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})
    delete = ("DELETE", f"/api/queues/%2F/{queue}", None)
    missing = [("DELETE", f"/api/queues/%2F/missing-{tag}", None),
               ("DELETE", f"/api/queues/%2F/missing-{tag}/contents", None),
               ("DELETE", f"/api/exchanges/%2F/missing-{tag}", None),
               ("POST", f"/api/queues/%2F/missing-{tag}/get", get[2]),
               ("POST", f"/api/exchanges/%2F/missing-{tag}/publish", publish[2]),
               ("POST", f"/api/bindings/%2F/e/amq.direct/q/missing-{tag}", {})]
    phases: list[tuple[Any, list[tuple[str, str, Any]]]] = [
        (None, [declare, publish, get, delete, *missing]),
        ({"configure": "^$", "write": "^$", "read": "^$"}, [declare, publish, get, *missing]),
        ({"configure": "^c-", "write": ".*", "read": "^c-"}, [declare, publish, get, delete]),
        ("administrator", [declare, publish, get, delete, *missing]),
    ]
    answers = []
    for http in (rabbitmq_http, embedded.http):
        observed: list[Any] = []
        try:
            http("PUT", f"/api/users/{user}", {"password": PASSWORD, "tags": "management"})
            for permissions, actions in phases:
                if permissions == "administrator":
                    http("PUT", f"/api/users/{user}", {"password": PASSWORD,
                                                       "tags": "administrator"})
                    http("DELETE", f"/api/permissions/%2F/{user}")
                elif permissions is not None:
                    http("PUT", f"/api/permissions/%2F/{user}", permissions)
                for method, path, body in actions:
                    reply = http(method, path, body, auth=(user, PASSWORD))
                    observed.append((method, path, reply.status,
                                     reply.json() if reply.body else None))
        finally:
            http("DELETE", f"/api/users/{user}")
            http("DELETE", f"/api/queues/%2F/{queue}")
        answers.append(observed)
    assert answers[1] == answers[0], "the embedded API (left) answers otherwise than RabbitMQ"
    assert answers[1][0][2:] == (401, {"error": "not_authorised",
                                       "reason": "User not authorised to access virtual host"})
