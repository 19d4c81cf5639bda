"""``?sort=`` and ``?sort_reverse=true`` on the lists, which ``rabbitmqadmin list ...
--sort KEY --sort-reverse`` sends: the same queues on RabbitMQ and on the broker come in
the same order (by the dotted field, then vhost and name, in Erlang's order of terms)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http
from tests.contrib.management.test_rabbitmqadmin import admin  # noqa: F401 (a fixture)
from transports.memory import Broker

#: name, messages, durable, arguments
QUEUES = (("b", 2, True, {}), ("a", 1, False, {}), ("C", 3, False, {}), ("d", 0, True, {}),
          ("e", 2, False, {"x-max-length": 5}))
SORTS = ("", "sort=messages", "sort=messages&sort_reverse=true", "sort_reverse=true",
         "sort=durable", "sort=arguments.x-max-length", "sort=no-such-field",
         "sort=messages&columns=name")


def declare(client: Http, vhost: str) -> None:
    v = quote(vhost, safe="")
    for name, messages, durable, arguments in QUEUES:
        assert client("PUT", f"/api/queues/{v}/{name}",
                      {"durable": durable, "arguments": arguments}).status in (201, 204)
        for _ in range(messages):
            assert client("POST", f"/api/exchanges/{v}/amq.default/publish",
                          {"routing_key": name, "payload": "m", "payload_encoding": "string",
                           "properties": {}}).json() == {"routed": True}


def orders(client: Http, vhost: str) -> dict[str, list[str]]:
    v = quote(vhost, safe="")
    return {query: [q["name"] for q in client("GET", f"/api/queues/{v}?{query}").json()]
            for query in SORTS}


@pytest.mark.rabbitmq
def test_lists_are_sorted_as_rabbitmq_sorts_them(rabbitmq_http: Http,
                                                 rabbitmq_vhost: str) -> None:
    with ManagementServer(Broker(), port=0) as server:
        declare(Http(server.url), "/")
        got = orders(Http(server.url), "/")
    declare(rabbitmq_http, rabbitmq_vhost)
    deadline = time.monotonic() + 30  # RabbitMQ shows queue lengths every 5 s
    while (expected := orders(rabbitmq_http, rabbitmq_vhost)) != got \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert expected == got


def test_rabbitmqadmin_sorts_and_reverses(admin: Callable[..., Any],  # noqa: F811
                                          http_api: Http) -> None:
    declare(http_api, "/")
    listed = admin("list", "queues", "name", "messages", "--sort=messages", "--sort-reverse",
                   raw=True)
    assert [(q["name"], q["messages"]) for q in listed] \
        == [("C", 3), ("e", 2), ("b", 2), ("a", 1), ("d", 0)]
