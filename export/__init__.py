"""ONNX export of the trained networks and the model bundle. Needs the train extra."""
