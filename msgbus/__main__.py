"""``python -m msgbus``: the ``msgbus`` command."""

import os
import sys

# ``python -m`` puts the current folder first on sys.path, the ``msgbus`` command does not:
# a folder holding a package of its own named ``contrib`` or ``transports`` would hide
# msgbus's. Run as the command does (a SCRIPT the command runs gets its own folder).
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from msgbus.cli import main  # after the path is set

sys.exit(main())
