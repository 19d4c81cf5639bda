"""Users' permissions in process: through ``MemoryTransport`` (msgbus's errors) and the pika
facade (pika's exceptions), with the codes and texts RabbitMQ 3.10 gives (the wire
differential test, ``tests/contrib/amqp_server/test_permissions_differential.py``, compares
them with RabbitMQ's method by method). And permission patterns matched as RabbitMQ matches
them: random patterns and names, checked on a real RabbitMQ and on the broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika
import pika.exceptions
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contrib.pika_compat import BlockingConnection
from msgbus import ValidationError
from msgbus.errors import AccessRefused, AMQPError, NotAllowed
from tests.contrib.management.conftest import Http, rabbitmq_http
from transports.memory import Broker, MemoryTransport

__all__ = ["rabbitmq_http"]  # the fixture, imported for the differential test

GRANTED = {"configure": "^c", "write": "^(w|c)", "read": "^(r|c)"}


def _refused(kind: str, name: str, user: str = "u", vhost: str = "/") -> str:
    return (f"ACCESS_REFUSED - access to {kind} '{name}' in vhost '{vhost}' refused for "
            f"user '{user}'")


@pytest.fixture
def broker() -> Broker:
    broker = Broker()
    broker.add_user("u", "p")
    admin = MemoryTransport(broker)
    for name in ("r-x", "w-x"):
        admin.declare_exchange(name, "fanout")
    for name in ("r-q", "w-q"):
        admin.declare_queue(name)
    admin.publish("", "r-q", b"ready")
    admin.close()
    return broker


def test_a_new_user_may_use_no_vhost_until_granted(broker: Broker) -> None:
    with pytest.raises(NotAllowed) as denied:
        MemoryTransport(broker, username="u", password="p")
    assert (denied.value.reply_code, denied.value.reply_text) == (
        530, "NOT_ALLOWED - access to vhost '/' refused for user 'u'")
    broker.set_permissions("u", "/", **GRANTED)
    MemoryTransport(broker, username="u", password="p").close()


def test_add_vhost_grants_guest_unless_told_otherwise(broker: Broker) -> None:
    broker.add_vhost("granted")
    broker.add_vhost("nobody's", grant=None)
    broker.add_vhost("u's", grant="u")
    MemoryTransport(broker, vhost="granted").close()
    with pytest.raises(NotAllowed, match="access to vhost 'nobody's' refused for user 'guest'"):
        MemoryTransport(broker, vhost="nobody's")
    MemoryTransport(broker, vhost="u's", username="u", password="p").close()
    assert [(p.user, p.vhost) for p in broker.permissions()] == [
        ("guest", "/"), ("guest", "granted"), ("u", "u's")]


def test_transport_methods_are_checked(broker: Broker) -> None:
    broker.set_permissions("u", "/", **GRANTED)
    t = MemoryTransport(broker, username="u", password="p")
    refusals = {
        "declare_queue": (lambda: t.declare_queue("w-q2"), _refused("queue", "w-q2")),
        "declare_exchange": (lambda: t.declare_exchange("r-x2"), _refused("exchange", "r-x2")),
        "delete_queue": (lambda: t.delete_queue("r-q"), _refused("queue", "r-q")),
        "delete_exchange": (lambda: t.delete_exchange("w-x"), _refused("exchange", "w-x")),
        "bind_queue": (lambda: t.bind_queue("r-q", "r-x"), _refused("queue", "r-q")),
        "bind_exchange": (lambda: t.bind_exchange("w-x", "w-x"), _refused("exchange", "w-x")),
        "publish": (lambda: t.publish("r-x", "", b"x"), _refused("exchange", "r-x")),
        "publish default": (lambda: t.publish("", "c-q", b"x"),
                            _refused("exchange", "amq.default")),
        "get": (lambda: t.get("w-q"), _refused("queue", "w-q")),
        "consume": (lambda: t.consume("w-q", lambda delivery: None), _refused("queue", "w-q")),
        "purge_queue": (lambda: t.purge_queue("w-q"), _refused("queue", "w-q")),
    }
    for label, (action, text) in refusals.items():
        with pytest.raises(AccessRefused) as refused:
            action()
        assert (refused.value.reply_code, refused.value.reply_text) == (403, text), label
    assert t.declare_queue("c-q").name == "c-q"
    t.bind_queue("w-q", "r-x")
    t.publish("w-x", "", b"x")
    got = t.get("r-q", auto_ack=True)
    assert got is not None and got.body == b"ready"
    assert t.declare_queue("w-q", passive=True).message_count == 0  # passive: no check
    t.close()


def test_a_change_applies_to_an_open_connection(broker: Broker) -> None:
    broker.set_permissions("u", "/", **GRANTED)
    t = MemoryTransport(broker, username="u", password="p")
    with pytest.raises(AccessRefused):
        t.get("w-q")
    broker.set_permissions("u", "/", read=".*", write="", configure="")
    assert t.get("w-q") is None
    broker.clear_permissions("u", "/")
    with pytest.raises(AccessRefused, match=_refused("queue", "r-q")):
        t.get("r-q")
    assert t.is_open
    t.close()
    with pytest.raises(NotAllowed):
        MemoryTransport(broker, username="u", password="p")


def test_empty_and_anchored_patterns(broker: Broker) -> None:
    broker.set_permissions("u", "/", configure="", write="^$", read="q")
    channel = broker.connect(username="u", password="p").channel()
    for name in ("", "c"):
        with pytest.raises(AMQPError):  # nothing may be configured, not even ""
            channel.exchange_delete(name)
        channel = channel.connection.channel()
    assert channel.basic_get("r-q", no_ack=True) is not None  # "q" matches inside the name


def test_an_invalid_pattern_is_refused_when_set(broker: Broker) -> None:
    with pytest.raises(ValidationError, match="configure permission of user 'u'"):
        broker.set_permissions("u", "/", configure="(")
    assert broker.permissions() == [p for p in broker.permissions() if p.user == "guest"]


def test_pika_facade_raises_pikas_exceptions(broker: Broker) -> None:
    url = "amqp://u:p@localhost/%2F"
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError, match="NOT_ALLOWED - access "
                                                                         "to vhost '/'"):
        BlockingConnection(pika.URLParameters(url), broker=broker)
    broker.set_permissions("u", "/", **GRANTED)
    with BlockingConnection(pika.URLParameters(url), broker=broker) as connection:
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            channel.queue_declare("w-q")
        assert (closed.value.reply_code, closed.value.reply_text) == (
            403, _refused("queue", "w-q"))
        assert connection.is_open
        assert connection.channel().queue_declare("c-q").method.queue == "c-q"


# -- patterns matched as RabbitMQ matches them ---------------------------------------------

_PIECES = ["a", "b", "-", ".", "*", "+", "?", "^", "$", "|", "[ab]", "[^a]", "(a|b)",
           "(ab)", "a{2}", "\\.", "\\-"]
patterns = st.lists(st.sampled_from(_PIECES), max_size=5).map("".join)
names = st.lists(st.text("ab-.", min_size=1, max_size=4).map(lambda name: "n" + name
                                                              if name[0] in ".-" else name),
                 min_size=1, max_size=4, unique=True)


class Rabbit:
    """A user of its own with a connection to a vhost of its own on RabbitMQ."""

    def __init__(self, amqp_url: str, http: Http) -> None:
        tag = uuid.uuid4().hex[:10]
        self.http, self.user, self.vhost = http, f"msgbus-perm-{tag}", f"msgbus-perm-{tag}"
        assert http("PUT", f"/api/users/{self.user}", {"password": "p", "tags": ""}).status \
            == 201
        assert http("PUT", f"/api/vhosts/{self.vhost}", {}).status == 201
        assert self.grant(".*")
        parts = urlsplit(amqp_url)
        self.connection = pika.BlockingConnection(pika.ConnectionParameters(
            parts.hostname, parts.port or 5672, self.vhost,
            pika.PlainCredentials(self.user, "p")))

    def grant(self, configure: str) -> bool:
        """False when RabbitMQ refuses the pattern."""
        reply = self.http("PUT", f"/api/permissions/{self.vhost}/{self.user}",
                          {"configure": configure, "write": "", "read": ""})
        return reply.status in (201, 204)

    def allowed(self, name: str) -> bool:
        channel = self.connection.channel()
        try:
            channel.exchange_delete(name)  # a configure check, and nothing else
        except pika.exceptions.ChannelClosedByBroker as error:
            assert error.reply_code == 403, error
            return False
        channel.close()
        return True

    def close(self) -> None:
        self.connection.close()
        self.http("DELETE", f"/api/users/{self.user}")
        self.http("DELETE", f"/api/vhosts/{self.vhost}")


@pytest.fixture
def rabbit(amqp_url: str, rabbitmq_http: Http) -> Iterator[Rabbit]:
    made = Rabbit(amqp_url, rabbitmq_http)
    yield made
    made.close()


@pytest.mark.rabbitmq
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=patterns, names=names)
def test_patterns_match_as_on_rabbitmq(rabbit: Rabbit, pattern: str, names: list[str]) -> None:
    assume(rabbit.grant(pattern))
    broker = Broker()
    broker.add_user("u", "p")
    broker.set_permissions("u", "/", configure=pattern, write="", read="")
    connection = broker.connect(username="u", password="p")
    ours = []
    for name in names:
        try:
            connection.channel().exchange_delete(name)
            ours.append(True)
        except AccessRefused:
            ours.append(False)
    assert ours == [rabbit.allowed(name) for name in names], pattern
