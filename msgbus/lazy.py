"""Packages whose public names are imported when first used (PEP 562): a program that needs
one part of a package does not pay for loading the rest."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str], namespace: dict[str, Any],
                 public: Iterable[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: a name of ``homes`` is imported
    from its module on first use and kept in the package's ``namespace``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    names = set(public)

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
