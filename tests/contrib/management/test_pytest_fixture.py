"""The pytest plugin's ``msgbus_management`` fixture, as a user's test suite meets it (run by
pytester in a subprocess, the plugin loaded through its entry point)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _no_url_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGBUS_TEST_URL", raising=False)


USER_TESTS = '''
import base64, json, urllib.request

def call(server, method, path, body=None):
    request = urllib.request.Request(
        server.url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None

def test_a_helper_purges_over_http(msgbus_management, msgbus_transport):
    msgbus_transport.declare_queue("jobs")
    msgbus_transport.publish("", "jobs", b"stale")
    assert call(msgbus_management, "GET", "/api/queues/%2F/jobs")["messages"] == 1
    call(msgbus_management, "DELETE", "/api/queues/%2F/jobs/contents")
    assert msgbus_transport.declare_queue("jobs", passive=True).message_count == 0

def test_rates_follow_the_manual_clock(msgbus_management, msgbus_transport, msgbus_clock):
    msgbus_transport.declare_queue("jobs")
    for _ in range(5):
        msgbus_transport.publish("", "jobs", b"x")
    msgbus_clock.advance(5)
    stats = call(msgbus_management, "GET", "/api/overview")["message_stats"]
    assert stats["publish_details"]["rate"] == 1.0

def test_network_clients_are_listed(msgbus_management, msgbus_amqp_server):
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(
        msgbus_amqp_server.url + "?client_properties={'connection_name':'billing'}"))
    try:
        connection.channel()
        [listed] = call(msgbus_management, "GET", "/api/connections")
        assert (listed["user_provided_name"], listed["protocol"]) == ("billing", "AMQP 0-9-1")
        assert listed["client_properties"]["product"] == "Pika Python Client Library"
        listener = call(msgbus_management, "GET", "/api/overview")["listeners"][0]
        assert (listener["protocol"], listener["port"]) == ("amqp", msgbus_amqp_server.port)
    finally:
        connection.close()
'''


def test_msgbus_management_serves_the_tests_own_broker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=3)
