"""The pika facade on the memory broker: behaviour a pika program observes."""

from __future__ import annotations

import threading
from typing import Any

import pika
import pika.exceptions
import pika.frame
import pika.spec
import pytest

from contrib.pika_compat import BlockingChannel, BlockingConnection
from msgbus.clock import ManualClock
from transports.memory import Broker, default_broker


@pytest.fixture
def broker(clock: ManualClock) -> Broker:
    return Broker(clock=clock)


@pytest.fixture
def connection(broker: Broker) -> Any:
    with BlockingConnection(broker=broker) as opened:
        yield opened


@pytest.fixture
def channel(connection: BlockingConnection) -> BlockingChannel:
    return connection.channel()


def test_frames_and_properties_are_pikas_own(channel: BlockingChannel) -> None:
    declared = channel.queue_declare("jobs")
    assert isinstance(declared, pika.frame.Method)
    assert isinstance(declared.method, pika.spec.Queue.DeclareOk)
    assert (declared.method.queue, declared.method.message_count) == ("jobs", 0)
    properties = pika.BasicProperties(
        content_type="text/plain", headers={"outer": {"inner": [1, "two", b"three"]}},
        delivery_mode=2, priority=1, correlation_id="c", reply_to="r", expiration="1000",
        message_id="m", timestamp=1700000000, type="t", user_id="guest", app_id="a",
        cluster_id="cl", content_encoding="utf-8")
    channel.basic_publish("", "jobs", b"body", properties)
    method, got, body = channel.basic_get("jobs")
    assert isinstance(method, pika.spec.Basic.GetOk)
    assert isinstance(got, pika.spec.BasicProperties)
    assert body == b"body"
    assert vars(got) == vars(properties)
    assert channel.basic_get("jobs") == (None, None, None)


def test_vhost_and_credentials_are_honoured(broker: Broker) -> None:
    broker.add_vhost("staging")
    broker.add_user("alice", "secret")
    broker.set_permissions("alice", "staging")  # a new user may use no vhost until granted
    url = pika.URLParameters("amqp://alice:secret@localhost/staging")
    with BlockingConnection(url, broker=broker) as connection:
        connection.channel().queue_declare("only-in-staging")
    assert [q.name for q in broker.queues("staging")] == ["only-in-staging"]
    assert broker.queues("/") == []
    with pytest.raises(pika.exceptions.ProbableAuthenticationError, match="ACCESS_REFUSED"):
        BlockingConnection(pika.URLParameters("amqp://alice:wrong@localhost/staging"),
                           broker=broker)
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError,
                       match="NOT_ALLOWED - vhost nowhere not found"):
        BlockingConnection(pika.ConnectionParameters(virtual_host="nowhere"), broker=broker)


def test_default_broker_when_none_given() -> None:
    with BlockingConnection() as connection:
        connection.channel().queue_declare("pika-compat-default-broker-probe")
    names = [q.name for q in default_broker().queues()]
    assert "pika-compat-default-broker-probe" in names
    with BlockingConnection() as connection:
        connection.channel().queue_delete("pika-compat-default-broker-probe")


def test_channel_error_closes_channel_then_wrong_state(channel: BlockingChannel) -> None:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
        channel.queue_declare("missing", passive=True)
    assert raised.value.reply_code == 404
    assert raised.value.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"
    assert channel.is_closed and not channel.is_open
    with pytest.raises(pika.exceptions.ChannelWrongStateError, match="Channel is closed"):
        channel.basic_publish("", "q", b"x")
    assert channel.connection.is_open


def test_async_error_surfaces_on_next_synchronous_call(channel: BlockingChannel) -> None:
    channel.basic_publish("no-such-exchange", "k", b"x")
    assert channel.is_open  # like pika: the close has not been read yet
    channel.basic_publish("", "k", b"dropped")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="no exchange"):
        channel.queue_declare("q")
    with pytest.raises(pika.exceptions.ChannelWrongStateError):
        channel.queue_declare("q")


def test_connection_error_and_closed_connection(connection: BlockingConnection) -> None:
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as raised:
        channel.exchange_declare("x", "no-such-type")
    assert raised.value.reply_code == 503
    assert connection.is_closed and channel.is_closed
    with pytest.raises(pika.exceptions.ConnectionWrongStateError):
        connection.channel()
    with pytest.raises(pika.exceptions.ConnectionWrongStateError):
        connection.close()
    with pytest.raises(pika.exceptions.ConnectionWrongStateError):
        connection.add_callback_threadsafe(lambda: None)


def test_broker_restart_closes_connection_with_320(broker: Broker) -> None:
    connection = BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("q")
    broker.restart()
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as raised:
        connection.process_data_events(0)
    assert raised.value.reply_code == 320
    assert connection.is_closed


def test_confirms_raise_unroutable_and_nack(channel: BlockingChannel) -> None:
    channel.confirm_delivery()
    with pytest.raises(pika.exceptions.UnroutableError) as unroutable:
        channel.basic_publish("amq.direct", "nowhere", b"lost", mandatory=True)
    (returned,) = unroutable.value.messages
    assert (returned.method.reply_code, returned.method.reply_text) == (312, "NO_ROUTE")
    assert returned.body == b"lost"
    channel.queue_declare("one", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.basic_publish("", "one", b"1")
    with pytest.raises(pika.exceptions.NackError):
        channel.basic_publish("", "one", b"2")
    assert channel.queue_declare("one", passive=True).method.message_count == 1


def test_duplicate_consumer_tag_and_generator_params(channel: BlockingChannel) -> None:
    channel.queue_declare("q")
    channel.basic_consume("q", lambda *a: None, consumer_tag="tag")
    with pytest.raises(pika.exceptions.DuplicateConsumerTag):
        channel.basic_consume("q", lambda *a: None, consumer_tag="tag")
    next(channel.consume("q", inactivity_timeout=0))
    other = channel.consume("q", auto_ack=True)  # a generator: checked on its first next()
    with pytest.raises(ValueError, match="different params"):
        next(other)
    assert len(channel.consumer_tags) == 2
    channel.cancel()
    assert channel.consumer_tags == ["tag"]


def test_consume_generator_counts_and_cancel_requeues(channel: BlockingChannel) -> None:
    channel.queue_declare("q")
    for i in range(3):
        channel.basic_publish("", "q", f"m{i}".encode())
    messages = channel.consume("q")
    method, _, body = next(messages)
    assert (method.delivery_tag, body) == (1, b"m0")
    assert channel.get_waiting_message_count() == 2
    channel.cancel()
    assert channel.get_waiting_message_count() == 0
    left = [channel.basic_get("q", auto_ack=True) for _ in range(2)]
    assert [(m.redelivered, b) for m, _, b in left] == [(True, b"m1"), (True, b"m2")]
    assert channel.basic_get("q") == (None, None, None)  # m0 stays unacked: it was yielded


def test_ttl_follows_the_brokers_clock(channel: BlockingChannel, clock: ManualClock) -> None:
    channel.queue_declare("short", arguments={"x-message-ttl": 1000})
    channel.basic_publish("", "short", b"x")
    clock.advance(0.999)
    assert channel.queue_declare("short", passive=True).method.message_count == 1
    clock.advance(0.001)
    assert channel.queue_declare("short", passive=True).method.message_count == 0


def test_callbacks_run_on_the_consuming_thread(broker: Broker) -> None:
    connection = BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("q")
    threads: list[str] = []
    consumed = threading.Event()

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        threads.append(threading.current_thread().name)
        ch.basic_ack(method.delivery_tag)
        consumed.set()

    channel.basic_consume("q", on_message)
    consumer = threading.Thread(target=channel.start_consuming, name="consumer")
    consumer.start()
    with BlockingConnection(broker=broker) as producer:
        producer.channel().basic_publish("", "q", b"hello")
    assert consumed.wait(10)
    connection.add_callback_threadsafe(channel.stop_consuming)
    consumer.join(10)
    assert not consumer.is_alive()
    assert threads == ["consumer"]
    connection.close()


def test_call_later_and_remove_timeout(connection: BlockingConnection) -> None:
    fired: list[str] = []
    connection.call_later(0, lambda: fired.append("now"))
    cancelled = connection.call_later(0, lambda: fired.append("cancelled"))
    connection.remove_timeout(cancelled)
    connection.process_data_events(0)
    assert fired == ["now"]
    connection.call_later(0.01, lambda: fired.append("later"))
    connection.process_data_events(None)
    assert fired == ["now", "later"]


def test_start_consuming_inside_callback_is_reentrancy(connection: BlockingConnection) -> None:
    channel = connection.channel()
    channel.queue_declare("q")
    errors: list[BaseException] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        try:
            ch.start_consuming()
        except pika.exceptions.ReentrancyError as error:
            errors.append(error)
        ch.stop_consuming()

    channel.basic_consume("q", on_message, auto_ack=True)
    channel.basic_publish("", "q", b"x")
    channel.start_consuming()
    assert len(errors) == 1


def test_bad_input_raises_pikas_errors_and_loses_nothing(channel: BlockingChannel) -> None:
    channel.queue_declare("kept")
    channel.basic_publish("", "kept", b"precious")
    with pytest.raises(TypeError, match="queue must be a str"):
        channel.queue_declare(5)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="routing_key"):
        channel.basic_publish("", None, b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefetch_count must be >= 0"):
        channel.basic_qos(prefetch_count=-1)
    with pytest.raises(TypeError, match="delivery_tag must be an integer"):
        channel.basic_reject("1")  # type: ignore[arg-type]
    with pytest.raises(pika.exceptions.UnsupportedAMQPFieldException):
        channel.basic_publish("", "kept", b"x", pika.BasicProperties(headers={"a": object()}))
    assert channel.is_open
    assert channel.basic_get("kept", auto_ack=True)[2] == b"precious"


def test_basic_cancel_auto_ack_returns_undispatched(channel: BlockingChannel) -> None:
    channel.queue_declare("q")
    channel.basic_publish("", "q", b"a")
    channel.basic_publish("", "q", b"b")
    tag = channel.basic_consume("q", lambda *a: None, auto_ack=True)
    pending = channel.basic_cancel(tag)
    assert [body for _, _, body in pending] == [b"a", b"b"]
    assert channel.basic_cancel(tag) == []
