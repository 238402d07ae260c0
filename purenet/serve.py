"""``python -m purenet.serve``: the command line of :mod:`purenet.cli.serve`."""

import sys

from .cli.serve import main

if __name__ == "__main__":
    sys.exit(main())
