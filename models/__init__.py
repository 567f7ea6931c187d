"""PyTorch side of reelpoet: training data, tokenizers, the LM, training and evaluation.

Needs the `train` extra. The runtime (`reelpoet.sdk`) never imports this package.
"""
