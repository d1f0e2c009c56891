"""`python -m kaito.cli`."""

import sys

from kaito.cli import main

sys.exit(main())
