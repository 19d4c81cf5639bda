"""The ``pytest11`` entry point ``msgbus``: msgbus's pytest fixtures, loaded in a way that
cannot disturb a project's own packages.

pytest loads every installed plugin before it looks at a project, in every project. The
fixtures live in ``contrib/pytest_plugin.py``, but ``contrib`` (like ``transports``) is a
generic top-level name that a project may use for its own package. Importing msgbus's
``contrib`` at start-up would either fail (the project's package shadows it, and pytest
stops with ``Error while loading plugin "pytest11"``) or shadow the project's package (its
own tests then fail on ``import contrib.something``). So this module, whose name is
msgbus's own, loads that file from this distribution under the name
``msgbus._pytest_fixtures`` without importing the package ``contrib``; the fixtures import
the memory broker and the toolkit only when a test uses them.

This is not an API: use the fixtures (``msgbus_transport``, ``msgbus_broker``, ...).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__: list[str] = []

_NAME = "msgbus._pytest_fixtures"
_FILE = Path(__file__).resolve().parent.parent / "contrib" / "pytest_plugin.py"


def _load() -> ModuleType:
    loaded = sys.modules.get(_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(_NAME, _FILE)
    if spec is None or spec.loader is None or not _FILE.is_file():
        raise ImportError(f"msgbus's pytest plugin: expected its fixtures in {_FILE}, "
                          "found no such file (is the msgbus installation complete?)",
                          name=_NAME, path=str(_FILE))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module


# pytest finds hooks and fixtures by name on the module it registered: this one
globals().update({name: value for name, value in vars(_load()).items()
                  if name.startswith(("pytest_", "msgbus_"))})
