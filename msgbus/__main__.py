import sys

from msgbus.cli import main

sys.exit(main())
