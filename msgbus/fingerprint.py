"""``Fingerprint``: who sent a message (name, type, pid, host, user, vhost).

Every message a producer sends carries the dictionary form of its fingerprint, so a
receiver can tell which component, on which host and in which process, spoke to it. The
values are read from the operating system when the fingerprint is created (never at
import time), and any of them can be given explicitly.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msgbus.errors import ValidationError

__all__ = ["Fingerprint", "fingerprint_dict"]

FIELDS = ("name", "type", "pid", "host", "user", "vhost")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a container
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The identity of a component; every value is a string on the wire.

    ``Fingerprint("billing", "worker")`` fills ``pid``, ``host`` and ``user`` from the
    running process. ``vhost`` left as ``None`` is filled by the producer or processor the
    fingerprint is given to, with the virtual host its transport is connected to.
    """

    name: str | None = None
    type: str | None = None
    pid: str = field(default_factory=lambda: str(os.getpid()))
    host: str = field(default_factory=lambda: socket.gethostname())
    user: str = field(default_factory=lambda: _current_user())
    vhost: str | None = None

    def __post_init__(self) -> None:
        for attr in FIELDS:
            value = getattr(self, attr)
            if value is None and attr in ("name", "type", "vhost"):
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, attr, str(value))
            elif not isinstance(value, str):
                raise ValidationError(
                    f"Fingerprint.{attr} expects a string, got {type(value).__name__} {value!r}"
                )

    def as_dict(self) -> dict[str, str | None]:
        """The wire form: ``{"name", "type", "pid", "host", "user", "vhost"}``."""
        return {attr: getattr(self, attr) for attr in FIELDS}

    def as_tuple(self) -> tuple[str | None, ...]:
        """``(name, type, pid, host, user, vhost)``."""
        return tuple(getattr(self, attr) for attr in FIELDS)

    @property
    def uid(self) -> str:
        """``{pid}@{host}``: unique on a network of hosts."""
        return f"{self.pid}@{self.host}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """Rebuild a fingerprint from its dictionary form (unknown keys are ignored)."""
        if not isinstance(data, Mapping):
            raise ValidationError(
                f"Fingerprint.from_dict expects a mapping, got {type(data).__name__}"
            )
        return cls(**{attr: data[attr] for attr in FIELDS if attr in data})


def fingerprint_dict(
    fingerprint: Fingerprint | Mapping[str, Any] | None, vhost: str
) -> dict[str, Any]:
    """The dictionary form a producer or processor sends: the running process's values,
    ``vhost`` (its transport's virtual host), and over them what ``fingerprint`` sets (the
    values of a :class:`Fingerprint` that are not ``None``, every key of a mapping)."""
    base: dict[str, Any] = Fingerprint(vhost=vhost).as_dict()
    if isinstance(fingerprint, Fingerprint):
        base.update((k, v) for k, v in fingerprint.as_dict().items() if v is not None)
    elif fingerprint is not None:
        if not isinstance(fingerprint, Mapping):
            raise ValidationError(
                f"fingerprint must be a Fingerprint or a mapping, got "
                f"{type(fingerprint).__name__}: {_short(fingerprint)}")
        base.update(fingerprint)
    return base


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
