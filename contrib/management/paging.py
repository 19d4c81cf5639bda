"""RabbitMQ's pagination of the queue, exchange, connection, channel and vhost lists:
``?page=N[&page_size=S][&name=TEXT[&use_regex=true]]`` answers one page, after the sort,
as ``{"filtered_count", "item_count", "items", "page", "page_count", "page_size",
"total_count"}``; without ``page`` the list is whole and ``name`` filters nothing. The
refusals are RabbitMQ 3.10's (``rabbit_mgmt_util:pagination_params``, ``range_filter``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from contrib.management.errors import ApiError, bad_request

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "asked", "page_of"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
INVALID = "Pagination parameters are invalid"


def _number(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", text):  # what Erlang's list_to_integer takes
        raise bad_request(INVALID)
    return int(text)


def _shown(value: int | None) -> str:
    return "undefined" if value is None else str(value)


def _matches(name: str, pattern: re.Pattern[str] | None, text: str) -> bool:
    if pattern is not None:
        return pattern.search(name) is not None
    return text.lower() in name.lower()


def asked(query: Mapping[str, str]) -> bool:
    """Whether ``query`` has pagination parameters (valid or not: RabbitMQ refuses a bad
    ``page_size`` even without a ``page``)."""
    return "page" in query or "page_size" in query


def page_of(query: Mapping[str, str], items: Sequence[dict[str, Any]]
            ) -> dict[str, Any] | None:
    """The page ``query`` asks for of ``items`` (already sorted), or None when it asks for
    no page. Raises :class:`ApiError` (400) for parameters RabbitMQ refuses."""
    number = _number(query, "page")
    size = _number(query, "page_size")
    if number is None:
        return None
    if size is None and number > 0:
        size = DEFAULT_PAGE_SIZE
    if size is None or number <= 0 or not 0 < size <= MAX_PAGE_SIZE:
        raise ApiError(400, "invalid_pagination_parameters",
                       f"Invalid pagination parameters: page number {number}, "
                       f"page size {_shown(size)}")
    text = query.get("name", "")
    filtered = list(items)
    if text:
        pattern = None
        if query.get("use_regex") == "true":
            try:
                pattern = re.compile(text, re.IGNORECASE)
            except re.error:
                raise bad_request(INVALID) from None
        filtered = [item for item in items
                    if _matches(str(item.get("name", "")), pattern, text)]
    offset = (number - 1) * size
    if offset > len(filtered):
        raise ApiError(400, "page_out_of_range",
                       f"Page out of range, page: {number} page size: {size}, "
                       f"len: {len(filtered)}")
    shown = filtered[offset:offset + size]
    return {"filtered_count": len(filtered), "item_count": len(shown), "items": shown,
            "page": number, "page_size": size,
            "page_count": (len(filtered) + size - 1) // size, "total_count": len(items)}
