"""Who may use the broker: users' tags and password hashes, and per-vhost permissions, as
RabbitMQ's internal authentication backend keeps them (``rabbitmqctl add_user``,
``set_user_tags``, ``set_permissions``). Plain state, driven under the broker's lock.

The permissions are enforced (see :mod:`transports.memory.permissions`): each (vhost, user)
pair has one :class:`~transports.memory.permissions.Grant`, which its connections share and
which changes in place when the permissions are set or cleared.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass

from msgbus.errors import ValidationError
from transports.memory.permissions import Grant

__all__ = ["ALL", "AccessControl", "PermissionSnapshot", "UserSnapshot", "password_hash"]

ALL = ".*"  # the regular expression of a permission that allows every name
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"


def password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))
    with a fresh 4-byte salt."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    """A user as ``GET /api/users/{name}`` shows it."""

    name: str
    tags: tuple[str, ...]
    password_hash: str
    hashing_algorithm: str = HASHING_ALGORITHM


@dataclass(frozen=True, slots=True)
class PermissionSnapshot:
    """What ``user`` may configure, write and read in ``vhost``: three regular expressions
    matched against resource names."""

    user: str
    vhost: str
    configure: str
    write: str
    read: str


class AccessControl:
    """Tags, password hashes and permissions of the broker's users. The passwords
    themselves stay with the broker core, which checks them."""

    def __init__(self) -> None:
        self._tags: dict[str, tuple[str, ...]] = {}
        self._hashes: dict[str, str] = {}
        # (vhost, user) -> (configure, write, read), in the order they were set
        self._permissions: dict[tuple[str, str], tuple[str, str, str]] = {}
        # (vhost, user) -> what the checks read, kept for every pair a connection asked for
        self._grants: dict[tuple[str, str], Grant] = {}

    def set_user(self, username: str, password: str | None, tags: tuple[str, ...]) -> None:
        self._tags[username] = tags
        # without a password RabbitMQ still shows a hash, of a secret no one knows
        secret = os.urandom(16).hex() if password is None else password
        self._hashes[username] = password_hash(secret)

    def forget_user(self, username: str) -> None:
        self._tags.pop(username, None)
        self._hashes.pop(username, None)
        for key in [key for key in self._permissions if key[1] == username]:
            del self._permissions[key]
        for key in [key for key in self._grants if key[1] == username]:
            self._grants.pop(key).clear()

    def forget_vhost(self, vhost: str) -> None:
        for key in [key for key in self._permissions if key[0] == vhost]:
            del self._permissions[key]
        for key in [key for key in self._grants if key[0] == vhost]:
            self._grants.pop(key).clear()

    def user(self, username: str) -> UserSnapshot:
        return UserSnapshot(username, self._tags.get(username, ()),
                            self._hashes.get(username, ""))

    def set_permissions(self, user: str, vhost: str, configure: str, write: str,
                        read: str) -> None:
        for kind, pattern in (("configure", configure), ("write", write), ("read", read)):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValidationError(
                    f"{kind} permission of user {user!r} in vhost {vhost!r} must be a regular "
                    f"expression, got {pattern!r}: {error}") from None
        self._permissions[(vhost, user)] = (configure, write, read)
        self.grant(vhost, user).set(configure, write, read)

    def clear_permissions(self, user: str, vhost: str) -> bool:
        grant = self._grants.get((vhost, user))
        if grant is not None:
            grant.clear()
        return self._permissions.pop((vhost, user), None) is not None

    def grant(self, vhost: str, user: str) -> Grant:
        """What ``user`` may do in ``vhost``, as the checks read it (the same object for as
        long as the user and the vhost exist: connections keep it)."""
        grant = self._grants.get((vhost, user))
        if grant is None:
            grant = self._grants[(vhost, user)] = Grant()
            granted = self._permissions.get((vhost, user))
            if granted is not None:
                grant.set(*granted)
        return grant

    def permissions(self) -> list[PermissionSnapshot]:
        return [PermissionSnapshot(user, vhost, *granted)
                for (vhost, user), granted in self._permissions.items()]
