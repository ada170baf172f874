"""`python -m cli`: the same as the `rag` command."""

import sys

from cli import main

sys.exit(main())
