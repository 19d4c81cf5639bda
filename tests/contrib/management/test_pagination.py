"""Pages of the management API's lists, on RabbitMQ 3.10 and on ``ManagementServer``:
``?page=&page_size=&name=&use_regex=`` (amqpstorm's ``queue.list()`` and
``exchange.list()`` always ask for pages), with ``sort`` and ``columns``, and the 400s
for parameters RabbitMQ refuses. Each runs in a vhost of its own, so the counts are the
test's alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http
from transports.memory import Broker

pytestmark = pytest.mark.rabbitmq

QUEUES = ["abc", "def", "ghi", "Abd", "x.abc"]
QUERIES = [
    "page=1&page_size=2", "page=2&page_size=2", "page=3&page_size=2", "page=4&page_size=2",
    "page=5&page_size=2", "page=1", "page=1&name=AB", "page=1&name=^a.c$&use_regex=true",
    "page=1&name=b&use_regex=false", "page=1&page_size=1&name=zzz",
    "page=2&page_size=2&sort=name&sort_reverse=true", "page=0", "page=-1&page_size=3",
    "page=1&page_size=0", "page=1&page_size=500", "page=1&page_size=501", "page=x",
    "page_size=x", "page=1&page_size=2.5", "page=1&name=(&use_regex=true",
    "page_size=2", "name=abc",
]


def _setup(client: Http, vhost: str) -> None:
    for queue in QUEUES:
        assert client("PUT", f"/api/queues/{quote(vhost, safe='')}/{queue}",
                      {"durable": False}).status in (201, 204)


def _ask(client: Http, vhost: str, kind: str, query: str, columns: str = "name,vhost"
         ) -> tuple[int, Any]:
    reply = client("GET", f"/api/{kind}/{quote(vhost, safe='')}?{query}&columns={columns}")
    return reply.status, reply.json()


@pytest.fixture(scope="module")
def ours() -> Iterator[Http]:
    """A management server on a broker with the queues in the vhost ``v``."""
    broker = Broker()
    broker.add_vhost("v")
    with ManagementServer(broker, port=0) as server:
        client = Http(server.url)
        _setup(client, "v")
        yield client


def test_pages_of_queues_and_exchanges_are_rabbitmqs(rabbitmq_http: Http, rabbitmq_vhost: str
                                                     ) -> None:
    _setup(rabbitmq_http, rabbitmq_vhost)
    broker = Broker()
    broker.add_vhost(rabbitmq_vhost)
    with ManagementServer(broker, port=0) as server:
        client = Http(server.url)
        _setup(client, rabbitmq_vhost)
        differences = []
        for kind in ("queues", "exchanges"):
            for query in QUERIES:
                expected = _ask(rabbitmq_http, rabbitmq_vhost, kind, query)
                got = _ask(client, rabbitmq_vhost, kind, query)
                if got != expected:
                    differences.append(f"{kind}?{query}:\n  RabbitMQ: {expected}\n"
                                       f"  msgbus:   {got}")
    assert differences == [], "\n".join(differences)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.integers(-1, 6), size=st.integers(0, 4),
       name=st.sampled_from(["", "a", "B", "c$", "^x", "q", "[a-c]b"]), regex=st.booleans())
def test_any_page_is_answered_as_rabbitmq_answers_it(
        rabbitmq_http: Http, rabbitmq_vhost: str, ours: Http, page: int, size: int, name: str,
        regex: bool) -> None:
    if rabbitmq_http("GET", f"/api/queues/{quote(rabbitmq_vhost, safe='')}/abc").status != 200:
        _setup(rabbitmq_http, rabbitmq_vhost)
    query = f"page={page}&page_size={size}&name={quote(name)}&use_regex={str(regex).lower()}"
    assert _ask(ours, "v", "queues", query, "name") \
        == _ask(rabbitmq_http, rabbitmq_vhost, "queues", query, "name")
