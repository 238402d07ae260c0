"""``python -m purenet.predict``: the command line of :mod:`purenet.cli.predict`."""

import sys

from .cli.predict import main

if __name__ == "__main__":
    sys.exit(main())
