"""Region proposals: selective search (OpenCV), MultiBox, their merge, a per-image cache, recall."""
