"""``python -m pyhaproxy.keepalived``: the ``pykeepalived`` command."""

import sys

from pyhaproxy.keepalived.cli import main

sys.exit(main())
