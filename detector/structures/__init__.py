"""Structures every layer above shares: detections and their drawing."""

from .detections import Detections
from .draw import class_color, draw_detections

__all__ = ["Detections", "class_color", "draw_detections"]
