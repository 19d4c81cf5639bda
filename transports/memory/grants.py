"""One user's permissions in one vhost, compiled for the checks, and the check itself: a
resource name matched unanchored against a permission's regular expression, as RabbitMQ's
internal backend matches it (``re:run``; ``^$`` or an empty pattern allows nothing, ``.*``
everything). See :mod:`transports.memory.permissions` for which method checks what."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from msgbus.errors import AccessRefused, NotAllowed

if TYPE_CHECKING:
    from transports.memory.entities import ChannelState

__all__ = ["NOTHING", "Grant", "Matcher", "check", "check_vhost", "compile_permission",
           "refused"]

#: What RabbitMQ matches an empty permission as: nothing but the empty name.
NOTHING = "^$"
_NEVER = re.compile(r"(?!)")

Matcher = re.Pattern[str] | None  # None: every name


def compile_permission(pattern: str) -> Matcher:
    """The matcher of one permission's regular expression (raises ``re.error``)."""
    if pattern == ".*":
        return None
    return re.compile(pattern or NOTHING)


class Grant:
    """One user's permissions in one vhost, as the checks read them: ``granted`` False when
    the user has no permissions there (it may not open a connection to the vhost)."""

    __slots__ = ("configure", "granted", "read", "write")

    def __init__(self) -> None:
        self.granted = False
        self.configure: Matcher = _NEVER
        self.write: Matcher = _NEVER
        self.read: Matcher = _NEVER

    def set(self, configure: str, write: str, read: str) -> None:
        self.configure = compile_permission(configure)
        self.write = compile_permission(write)
        self.read = compile_permission(read)
        self.granted = True

    def clear(self) -> None:
        self.granted = False
        self.configure = self.write = self.read = _NEVER


def refused(kind: str, name: str, channel: ChannelState) -> AccessRefused:
    connection = channel.connection
    return AccessRefused(f"ACCESS_REFUSED - access to {kind} '{name}' in vhost "
                         f"'{connection.vhost}' refused for user '{connection.user}'")


def check(matcher: Matcher, kind: str, name: str, channel: ChannelState) -> None:
    """Raise 403 unless ``matcher`` allows the ``kind`` (exchange, queue) ``name``."""
    if matcher is not None:
        if kind == "exchange" and not name:
            name = "amq.default"  # RabbitMQ checks the default exchange under this name
        if matcher.search(name) is None:
            raise refused(kind, name, channel)


def check_vhost(grant: Grant, vhost: str, user: str) -> None:
    """connection.open: the user needs permissions in the vhost (530 otherwise)."""
    if not grant.granted:
        raise NotAllowed(f"NOT_ALLOWED - access to vhost '{vhost}' refused for user '{user}'")
