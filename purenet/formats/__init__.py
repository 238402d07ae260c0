"""File formats: model files, checkpoints, atomic writes, IDX and images."""
