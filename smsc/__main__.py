"""`python -m smsc`: the same as the `smsc` command."""

import sys

from smsc.cli import main

sys.exit(main())
