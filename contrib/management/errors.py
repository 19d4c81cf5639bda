"""Refusals as RabbitMQ's management API words them: a status and ``{"error", "reason"}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from msgbus.errors import MsgbusError

__all__ = ["ApiError", "bad_request", "compact_json", "error_response", "not_found"]


def compact_json(data: Any) -> str:
    """JSON as RabbitMQ's management API writes it: no spaces, UTF-8 as it is."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def error_response(status: int, error: str, reason: object,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "reason": reason}, dumps=compact_json,
                             status=status,
                             headers=headers)


class ApiError(MsgbusError):
    """A request the API refuses: the HTTP status and RabbitMQ's ``error`` and ``reason``
    (``empty``: no body, as RabbitMQ answers a request without credentials)."""

    def __init__(self, status: int, error: str, reason: object, *,
                 headers: Mapping[str, str] | None = None, empty: bool = False) -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = dict(headers or {})
        self.empty = empty

    def response(self) -> web.Response:
        if self.empty:
            return web.Response(status=self.status, headers=self.headers)
        return error_response(self.status, self.error, self.reason, self.headers)


def not_found() -> ApiError:
    """What RabbitMQ answers for an object (vhost, queue, exchange, binding) it lacks."""
    return ApiError(404, "Object Not Found", "Not Found")


def bad_request(reason: object) -> ApiError:
    return ApiError(400, "bad_request", reason)
