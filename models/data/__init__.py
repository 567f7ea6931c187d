"""Training data beyond the procedural world: folders of user video."""
