"""`python3 -m kaito.serve`: see kaito.serve.main."""

import sys

from kaito.serve.main import main

sys.exit(main())
