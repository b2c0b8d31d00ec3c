"""Features: point-in-time technical and options-flow features of every bar."""
