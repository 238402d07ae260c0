"""``python -m purenet.train``: the command line of :mod:`purenet.cli.train`."""

import sys

from .cli.train import main

if __name__ == "__main__":
    sys.exit(main())
