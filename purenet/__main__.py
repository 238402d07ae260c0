"""``python -m purenet`` is ``python -m purenet.train``."""
import sys
from .train import main

sys.exit(main())
