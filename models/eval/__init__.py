"""Evaluation of the trained networks: the numbers docs/ and the model card report."""
