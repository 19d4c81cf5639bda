"""Who may use the broker: users' tags and password hashes, and per-vhost permissions, as
RabbitMQ's internal authentication backend keeps them (``rabbitmqctl add_user``,
``set_user_tags``, ``set_permissions``). Plain state, driven under the broker's lock.

The permissions are enforced (see :mod:`transports.memory.permissions`): each (vhost, user)
pair has one :class:`~transports.memory.permissions.Grant`, which its connections share and
which changes in place when the permissions are set or cleared.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from msgbus.errors import ValidationError
from transports.memory.permissions import Grant

__all__ = ["ALL", "HASHING_ALGORITHMS", "SYSTEM_USER", "AccessControl", "PermissionSnapshot",
           "UserSnapshot", "check_permissions", "password_hash"]

ALL = ".*"  # the regular expression of a permission that allows every name
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"  # RabbitMQ's default
#: Whom the broker's own actions run as (RabbitMQ's internal user): every permission in every
#: vhost, and no password, so no client can log in as it.
SYSTEM_USER = "rmq-internal"
#: The hashing algorithms of RabbitMQ's internal backend, by the names its definitions use.
HASHING_ALGORITHMS: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "rabbit_password_hashing_sha256": hashlib.sha256,
    "rabbit_password_hashing_sha512": hashlib.sha512,
    "rabbit_password_hashing_md5": hashlib.md5,
}


def password_hash(password: str, hashing_algorithm: str = HASHING_ALGORITHM, *,
                  salt: bytes | None = None) -> str:
    """A password hashed as RabbitMQ hashes it: base64(salt + H(salt + password)) with a
    fresh 4-byte salt (or ``salt``), H the ``hashing_algorithm`` (sha256 by default)."""
    digest = HASHING_ALGORITHMS.get(hashing_algorithm)
    if digest is None:
        raise ValidationError(
            f"hashing_algorithm must be one of {', '.join(HASHING_ALGORITHMS)}, got "
            f"{hashing_algorithm!r}")
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + digest(salt + password.encode()).digest()).decode()


def decode_hash(value: str) -> bytes:
    """The bytes of a stored password hash (base64); ValidationError if it is not base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"password_hash must be base64, got {value!r}") from None


def matches(password: str, stored: str, hashing_algorithm: str) -> bool:
    """Whether ``password`` is the one ``stored`` (RabbitMQ's salted hash) was made of: never
    for an empty hash (no password) or an algorithm RabbitMQ does not have."""
    raw = decode_hash(stored) if stored else b""
    if len(raw) <= 4 or hashing_algorithm not in HASHING_ALGORITHMS:
        return False
    expected = password_hash(password, hashing_algorithm, salt=raw[:4])
    return hmac.compare_digest(expected.encode(), stored.encode())


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    """A user as ``GET /api/users/{name}`` shows it."""

    name: str
    tags: tuple[str, ...]
    password_hash: str  # "": the user has no password
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


def check_permissions(user: str, vhost: str, configure: str, write: str, read: str) -> None:
    """Raise ``ValidationError`` unless the three permissions are regular expressions."""
    for kind, pattern in (("configure", configure), ("write", write), ("read", read)):
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValidationError(
                f"{kind} permission of user {user!r} in vhost {vhost!r} must be a regular "
                f"expression, got {pattern!r}: {error}") from None


class AccessControl:
    """Tags, password hashes and permissions of the broker's users: a login is checked
    against the stored hash, as RabbitMQ checks it (no password is kept)."""

    def __init__(self) -> None:
        self._tags: dict[str, tuple[str, ...]] = {}
        self._hashes: dict[str, tuple[str, str]] = {}  # user -> (hash, hashing algorithm)
        # (vhost, user) -> (configure, write, read), in the order they were set
        self._permissions: dict[tuple[str, str], tuple[str, str, str]] = {}
        # (vhost, user) -> what the checks read, kept for every pair a connection asked for
        self._grants: dict[tuple[str, str], Grant] = {}

    def set_user(self, username: str, password: str | None, tags: tuple[str, ...], *,
                 hashed: str | None = None, hashing_algorithm: str = HASHING_ALGORITHM
                 ) -> None:
        """Set a user's tags and its password, or the ``hashed`` password (RabbitMQ's
        ``password_hash``, ``""`` for none) made with ``hashing_algorithm``: stored as it
        is, as RabbitMQ imports it (an algorithm it does not know lets nobody log in)."""
        if hashed is not None:
            if hashed:
                decode_hash(hashed)
            self._hashes[username] = (hashed, hashing_algorithm)
        else:
            # without a password RabbitMQ still shows a hash, of a secret no one knows
            secret = os.urandom(16).hex() if password is None else password
            self._hashes[username] = (password_hash(secret), HASHING_ALGORITHM)
        self._tags[username] = tags
        if username == SYSTEM_USER:  # a user of that name is an ordinary one
            for key in [key for key in self._grants if key[1] == username]:
                self._grants.pop(key).clear()

    def check_password(self, username: str, password: str) -> bool:
        """Whether ``username`` has a password and ``password`` is it."""
        stored = self._hashes.get(username)
        return stored is not None and matches(password, *stored)

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
        stored, algorithm = self._hashes.get(username, ("", HASHING_ALGORITHM))
        return UserSnapshot(username, self._tags.get(username, ()), stored, algorithm)

    def set_permissions(self, user: str, vhost: str, configure: str, write: str,
                        read: str) -> None:
        check_permissions(user, vhost, configure, write, read)
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
            if user == SYSTEM_USER and user not in self._hashes:
                granted = (ALL, ALL, ALL)
            if granted is not None:
                grant.set(*granted)
        return grant

    def permissions(self) -> list[PermissionSnapshot]:
        return [PermissionSnapshot(user, vhost, *granted)
                for (vhost, user), granted in self._permissions.items()]
