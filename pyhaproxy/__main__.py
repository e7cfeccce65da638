import sys

from pyhaproxy.cli import main

sys.exit(main())
