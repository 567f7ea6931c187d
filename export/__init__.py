"""ONNX export of the trained networks and the model bundle (a later issue). Needs the train extra."""
