"""The error every backbone module raises for a file that cannot serve the requested model."""


class WeightsError(ValueError):
    """A weights file that cannot serve the requested model; the message is one line."""


__all__ = ["WeightsError"]
