"""The pytest plugin, tested as a user meets it: test files run by pytester (the plugin is
loaded through its ``pytest11`` entry point, as in any project)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: the ``pytest`` command of this environment (not ``python -m pytest``)
_PYTEST = str(Path(sys.executable).with_name("pytest"))


def _run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    # a subprocess: the entry point loads the plugin exactly as in a user's project
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)


@pytest.fixture(autouse=True)
def _no_url_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGBUS_TEST_URL", raising=False)


PROCESSOR_TEST = """
from msgbus import Exchange, Fingerprint, GenericProducer, MessageHandler, MessageProcessor

class Orders(Exchange):
    name = "orders"
    exchange_type = "direct"

class Billing(MessageProcessor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.billed = []

    @MessageHandler("command", "bill")
    def on_bill(self, content):
        self.billed.append(content["parameters"]["args"][0])

class Shop(GenericProducer):
    eks = [(Orders, "bill")]

def test_bills(msgbus_connect, msgbus_wait_idle):
    billing = Billing(eqk=[(Orders, [("billing", "bill")])], transport=msgbus_connect())
    billing.start_consuming()
    Shop(Fingerprint("shop", "web"), transport=msgbus_connect()).message_bill(42)
    msgbus_wait_idle(billing)
    assert billing.billed == [42]
"""


def test_a_processor_test_runs_without_a_server(pytester: pytest.Pytester) -> None:
    result = _run(pytester, PROCESSOR_TEST)
    result.assert_outcomes(passed=1)


def test_fixture_names_do_not_clash_with_a_projects_own(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest

@pytest.fixture
def transport():
    return "the project's own"

@pytest.fixture
def clock():
    return "the project's clock"
""")
    result = _run(pytester, """
def test_both(transport, clock, msgbus_transport, msgbus_clock):
    assert transport == "the project's own" and clock == "the project's clock"
    assert msgbus_transport.declare_queue("q").name == "q"
    msgbus_clock.advance(1)
    assert msgbus_clock.monotonic() == 1
""")
    result.assert_outcomes(passed=1)


def test_every_test_gets_a_fresh_broker(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
import pytest

@pytest.mark.parametrize("n", [1, 2])
def test_fresh(msgbus_transport, msgbus_broker, n):
    assert [q.name for q in msgbus_broker.queues()] == []
    msgbus_transport.declare_queue("left-behind")
    msgbus_transport.publish("", "left-behind", b"x")
""")
    result.assert_outcomes(passed=2)


def test_the_clock_drives_the_brokers_ttl(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_ttl(msgbus_transport, msgbus_clock, msgbus_recorder):
    msgbus_transport.declare_queue("q", arguments={"x-message-ttl": 1000})
    msgbus_transport.publish("", "q", b"soon gone")
    msgbus_clock.advance(0.5)
    assert msgbus_transport.declare_queue("q", passive=True).message_count == 1
    msgbus_clock.advance(0.5)
    assert msgbus_transport.declare_queue("q", passive=True).message_count == 0
    msgbus_recorder.assert_nothing("dead-lettered")
    assert [e.queue for e in msgbus_recorder.select("expired")] == ["q"]
""")
    result.assert_outcomes(passed=1)


RECORDER_TEST = """
from msgbus import Properties

def test_life_of_messages(msgbus_transport, msgbus_recorder, msgbus_wait_idle):
    t = msgbus_transport
    t.declare_exchange("dlx", "fanout")
    t.declare_queue("dead")
    t.bind_queue("dead", "dlx")
    t.declare_queue("jobs", arguments={"x-dead-letter-exchange": "dlx"})
    t.publish("", "jobs", b"good")
    t.publish("", "jobs", b"bad")
    t.consume("jobs", lambda d: t.ack(d.delivery_tag) if d.body == b"good"
              else t.reject(d.delivery_tag, requeue=False))
    msgbus_wait_idle(t)
    assert msgbus_recorder.bodies("published", routing_key="jobs") == [b"good", b"bad"]
    assert msgbus_recorder.bodies("delivered", queue="jobs") == [b"good", b"bad"]
    msgbus_recorder.assert_acked(1, queue="jobs")
    msgbus_recorder.assert_rejected(1, queue="jobs")
    msgbus_recorder.assert_dead_lettered(queue="jobs", reason="rejected", exchange="dlx")
    assert msgbus_recorder.bodies("delivered", queue="dead") == []
    assert t.declare_queue("dead", passive=True).message_count == 1

def test_returned(msgbus_broker, msgbus_recorder, msgbus_wait_idle):
    from transports.memory import MemoryTransport
    t = MemoryTransport(msgbus_broker, confirm_publishes=False)
    returned = []
    t.add_return_callback(returned.append)
    t.publish("", "nowhere", b"lost", mandatory=True)
    msgbus_wait_idle(t)
    assert [r.body for r in returned] == [b"lost"]
    msgbus_recorder.assert_returned(routing_key="nowhere")
"""


def test_the_recorder_sees_publish_delivery_ack_reject_dead_letter_return(
        pytester: pytest.Pytester) -> None:
    result = _run(pytester, RECORDER_TEST)
    result.assert_outcomes(passed=2)


def test_a_failed_assertion_shows_the_trace_and_the_queues(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_expects_too_much(msgbus_transport, msgbus_recorder):
    msgbus_transport.declare_queue("jobs")
    msgbus_transport.publish("", "jobs", b"one")
    msgbus_recorder.assert_delivered(queue="jobs")
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*expected at least one 'delivered' event(s) with queue='jobs'; found 0",
        "*broker events (2):",
        "*publish  the default exchange, routing key 'jobs', body b'one'",
        "*route  the default exchange sends it to the queue named 'jobs'",
        "*queues:",
        "*name  messages_ready  messages_unacknowledged  consumers  arguments",
        "*jobs  1               0                        0",
    ])


def test_a_failing_test_reports_the_broker_state(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_wrong(msgbus_transport):
    msgbus_transport.declare_exchange("logs", "fanout")
    msgbus_transport.declare_queue("audit")
    msgbus_transport.bind_queue("audit", "logs")
    msgbus_transport.publish("logs", "", b"entry")
    assert msgbus_transport.declare_queue("audit", passive=True).message_count == 2
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- msgbus broker state -*",
        "queues:",
        "  name   messages_ready  messages_unacknowledged  consumers  arguments",
        "  audit  1               0                        0",
        "exchanges:",
        "*logs  * fanout*",
        "bindings:",
        "  source     destination  destination_kind  routing_key  arguments",
        "  (default)  audit        queue             audit",
        "  logs       audit        queue",
    ])


def test_a_passing_test_reports_nothing(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "def test_ok(msgbus_transport):\n    pass\n", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*msgbus broker state*")


URL_TEST = """
def test_where(msgbus_url, msgbus_transport):
    print("URL", msgbus_url, type(msgbus_transport).__name__)

def test_recorder(msgbus_recorder):
    pass
"""


def test_without_a_url_the_suite_runs_in_process(pytester: pytest.Pytester) -> None:
    result = _run(pytester, URL_TEST, "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*URL None MemoryTransport*"])


def test_the_url_option_points_the_fixtures_at_a_server(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    # memory://NAME is a server the plugin cannot see into, like a real one
    result = _run(pytester, URL_TEST, "-s", "-rs", "--msgbus-url", "memory://elsewhere")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*URL memory://elsewhere MemoryTransport*",
                                 "*msgbus_recorder observes the in-process broker*"])
    monkeypatch.setenv("MSGBUS_TEST_URL", "memory://elsewhere")
    result = _run(pytester, URL_TEST, "-s")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["msgbus: fixtures connect to memory://elsewhere",
                                 "*URL memory://elsewhere MemoryTransport*"])


@pytest.mark.rabbitmq
def test_one_suite_runs_on_a_real_server(pytester: pytest.Pytester, amqp_url: str) -> None:
    result = _run(pytester, PROCESSOR_TEST, "--msgbus-url", amqp_url)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["msgbus: fixtures connect to amqp://***@*"])
    assert "guest:guest" not in result.stdout.str()


def test_the_plugin_is_registered_through_its_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--msgbus-url=URL*"])
    assert os.environ.get("MSGBUS_TEST_URL") is None


def test_wait_idle_says_when_the_broker_never_settles(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_forgotten_consumer(msgbus_connect, msgbus_wait_idle):
    forgotten = msgbus_connect()
    forgotten.declare_queue("jobs")
    forgotten.consume("jobs", lambda delivery: None)
    publisher = msgbus_connect()
    publisher.publish("", "jobs", b"waiting for nobody")
    msgbus_wait_idle(publisher, timeout=0.2)
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: the broker was still busy after 0.2s of processing events on 1 "
        "object(s) (is every consumer's transport or processor among them?)",
        "*jobs  0               1                        1",
    ])


def _own_package(pytester: pytest.Pytester, name: str) -> None:
    pytester.mkpydir(name)
    (pytester.path / name / "helpers.py").write_text(f"WHO = 'the project\\'s own {name}'\n")


def test_a_projects_own_contrib_and_transports_packages_still_work(
        pytester: pytest.Pytester) -> None:
    # generic top-level names: msgbus's plugin must neither fail on the project's packages
    # (pytest exited 3, 'Error while loading plugin "pytest11"') nor hide them from its tests
    _own_package(pytester, "contrib")
    _own_package(pytester, "transports")
    source = """
from contrib.helpers import WHO as CONTRIB
from transports.helpers import WHO as TRANSPORTS

def test_own_packages(msgbus_clock):
    assert (CONTRIB, TRANSPORTS) == ("the project's own contrib", "the project's own transports")
    msgbus_clock.advance(1)
"""
    result = _run(pytester, source)  # python -m pytest: the project is first on sys.path
    result.assert_outcomes(passed=1)
    pytester.makeconftest("")  # the 'pytest' command: the rootdir conftest inserts it later
    result = pytester.run(_PYTEST, "-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_msgbus_fixtures_beside_a_projects_own_contrib_package(
        pytester: pytest.Pytester) -> None:
    _own_package(pytester, "contrib")
    result = _run(pytester, """
from contrib.helpers import WHO

def test_both(msgbus_transport, msgbus_wait_idle):
    assert WHO == "the project's own contrib"
    msgbus_transport.declare_queue("q")
    msgbus_transport.publish("", "q", b"x")
    msgbus_wait_idle(msgbus_transport)
    assert msgbus_transport.declare_queue("q", passive=True).message_count == 1
""")
    result.assert_outcomes(passed=1)
