"""``python -m purenet.gradcheck``: the command line of :mod:`purenet.cli.gradcheck`."""

import sys

from .cli.gradcheck import main

if __name__ == "__main__":
    sys.exit(main())
