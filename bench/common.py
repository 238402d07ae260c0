"""What the bench scripts share: the import path and where MNIST is."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from purenet import data          # noqa: E402


def load_mnist(data_dir=None):
    """(train, test): --data-dir, else $PURENET_DATA, else the download cache; never
    downloads."""
    return data.load_mnist(data_dir, download=False)
