"""`python -m kaito.tune`: see kaito.tune.cli."""

import sys

from kaito.tune.cli import main

sys.exit(main())
