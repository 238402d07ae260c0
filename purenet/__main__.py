"""``python -m purenet`` is ``python -m purenet.train``."""

import sys

from .cli.train import main

sys.exit(main())
