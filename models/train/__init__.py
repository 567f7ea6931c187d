"""Training plumbing shared by every model: distributed setup, checkpoints, run logs."""
