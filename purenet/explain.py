"""``python -m purenet.explain``: the command line of :mod:`purenet.cli.explain`."""

import sys

from .cli.explain import main

if __name__ == "__main__":
    sys.exit(main())
