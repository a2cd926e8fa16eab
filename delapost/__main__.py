"""`python -m delapost` is the `delapost` command."""

import sys

from delapost.cli import main

sys.exit(main())
