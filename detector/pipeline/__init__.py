"""Your own dataset in one command (``tools/train_det.py`` without naming the splits, or with
``--auto`` or ``--test-split``): the dataset report, settings chosen from it, every stage in
its own folder, resumable, and the test split scored once.

- :mod:`.splits`: the splits a run uses (XML defaults: train, val, test) and loading them.
- :mod:`.auto`: the settings chosen from the training split's report, each with its reason.
- :mod:`.settings`: the YAML, the choices, then ``--opts``; the MultiBox stage's config.
- :mod:`.run`: the stages (``multibox``, ``rcnn``, ``fast``, ``test``) and resuming them.
- :mod:`.evaluate`: the proposal source chosen on val, and the test stage.
"""

from .auto import Choice, detector_choices, multibox_choices
from .run import is_done, prepare, run_pipeline, stage_names
from .settings import Settings, resolve_settings
from .splits import Splits, load_splits, with_defaults

__all__ = [
    "Choice", "Settings", "Splits", "detector_choices", "is_done", "load_splits", "multibox_choices", "prepare",
    "resolve_settings", "run_pipeline", "stage_names", "with_defaults",
]  # fmt: skip
