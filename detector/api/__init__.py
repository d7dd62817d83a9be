"""The Python API: :class:`Detector` (images -> detections) and :class:`Classifier` (images ->
class probabilities), each loaded from a file in one line. The command-line tools are thin
layers over these."""

from .classifier import Classification, Classifier
from .detector import Detector, SplitDetections
from .inputs import ImageInput, as_rgb
from .members import format_members, members_report
from .result import Result

__all__ = [
    "Classification", "Classifier", "Detector", "ImageInput", "Result", "SplitDetections", "as_rgb", "format_members",
    "members_report",
]  # fmt: skip
