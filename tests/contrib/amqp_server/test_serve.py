"""``msgbus serve`` as a user runs it (a subprocess of the installed ``msgbus`` command), and
the pytest plugin's ``msgbus_amqp_server`` / ``msgbus_amqp_url`` fixtures as a user's
project meets them (test files run by pytester)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from tests.contrib.amqp_server.conftest import round_trip

pytest_plugins = ["pytester"]

MSGBUS = str(Path(sys.executable).with_name("msgbus"))
WAIT = 20.0


class Serving:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([MSGBUS, "serve", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline().strip()

    @property
    def url(self) -> str:
        prefix = "AMQP 0-9-1: "
        assert self.first_line.startswith(prefix), self.first_line
        return self.first_line[len(prefix):]

    def interrupt(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=WAIT)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=WAIT)


@pytest.fixture
def serve() -> Iterator[type[Serving]]:
    made: list[Serving] = []

    class Tracked(Serving):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            made.append(self)

    yield Tracked
    for serving in made:
        serving.kill()


def test_serve_prints_its_url_serves_and_stops_on_ctrl_c(serve: type[Serving]) -> None:
    serving = serve("--port", "0")
    url = serving.url
    assert url.startswith("amqp://guest:guest@127.0.0.1:") and url.endswith("/%2F")
    assert not url.endswith(":0/%2F")
    round_trip(url, "served")
    connection = pika.BlockingConnection(pika.URLParameters(url))  # still open at Ctrl-C
    code, out, err = serving.interrupt()
    assert code == 0, err
    assert out.strip() == "stopped" and "Traceback" not in err
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        connection.process_data_events(time_limit=1)
        connection.channel()


def test_serve_a_named_broker(serve: type[Serving]) -> None:
    serving = serve("--port", "0", "--broker", "jobs")
    round_trip(serving.url, "on-the-named-broker")
    code, _, err = serving.interrupt()
    assert code == 0, err


def test_serve_on_a_port_in_use(serve: type[Serving]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serving = serve("--port", str(port))
        _, err = serving.process.communicate(timeout=WAIT)
    assert serving.process.returncode not in (0, None)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and serving.first_line == "", err
    assert str(port) in lines[0] and "Traceback" not in err


# -- the fixtures, in a user's project ---------------------------------------------------


def _run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)


@pytest.fixture(autouse=True)
def _no_url_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGBUS_TEST_URL", raising=False)


WIRE_TEST = """
import pika

def test_over_the_wire(msgbus_amqp_url, msgbus_amqp_server, msgbus_broker, msgbus_recorder):
    assert msgbus_amqp_server.url == msgbus_amqp_url
    connection = pika.BlockingConnection(pika.URLParameters(msgbus_amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"job-1")
    channel.basic_publish("", "nowhere", b"lost")
    method, _, body = channel.basic_get("jobs")
    channel.basic_reject(method.delivery_tag, requeue=False)
    connection.close()
    assert body == b"job-1"
    assert msgbus_recorder.bodies("published") == [b"job-1", b"lost"]
    assert msgbus_recorder.bodies("delivered", queue="jobs") == [b"job-1"]
    assert len(msgbus_recorder.select("rejected", queue="jobs")) == 1
    assert msgbus_broker.queue("jobs").messages_ready == 0

def test_each_test_has_its_own_broker(msgbus_amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(msgbus_amqp_url))
    channel = connection.channel()
    assert channel.queue_declare("jobs", passive=False).method.message_count == 0
    connection.close()
"""


def test_the_fixtures_serve_the_tests_broker_to_wire_clients(pytester: pytest.Pytester
                                                             ) -> None:
    _run(pytester, WIRE_TEST).assert_outcomes(passed=2)


FAILING_TEST = """
import pika

def test_fails(msgbus_amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(msgbus_amqp_url))
    channel = connection.channel()
    channel.queue_declare("orders-over-the-wire")
    channel.basic_publish("", "orders-over-the-wire", b"x")
    channel.basic_publish("", "orders-over-the-wire", b"y")
    assert False, "the order was not processed"
"""


def test_a_failing_tests_report_shows_what_the_wire_client_left(pytester: pytest.Pytester
                                                               ) -> None:
    result = _run(pytester, FAILING_TEST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*msgbus broker state*", "*orders-over-the-wire*2*"])
