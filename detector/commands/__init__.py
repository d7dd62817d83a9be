"""The top layer: command-line code and the orchestration of several stages, over the library
below (``tools/*.py`` parse nothing themselves beyond what these take)."""
