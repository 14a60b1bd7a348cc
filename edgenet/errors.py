"""Errors that the CLI turns into one line on stderr and a non-zero exit code.

Library code raises these; it never calls sys.exit. Messages say what went wrong and what to do.
"""

from __future__ import annotations


class EdgenetError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class UsageError(EdgenetError):
    """Bad option values or combinations."""


class ModelError(EdgenetError):
    """A model file that is missing, unreadable or not an image classifier."""


class LabelsError(EdgenetError):
    """A labels file that does not fit the model."""


class SourceError(EdgenetError):
    """A video source that cannot be opened or parsed."""


class SourceLost(EdgenetError):
    """A live source stopped delivering frames (raised inside the capture thread, retried there)."""


class RuntimeNotAvailable(EdgenetError):
    """No TFLite interpreter package is installed, or the one asked for is missing."""


class DatasetError(EdgenetError):
    """An evaluation or calibration dataset that cannot be used."""


class DownloadError(EdgenetError):
    """A model download that failed or was refused (network, HTTP, checksum, unsafe archive); nothing was kept."""

    exit_code = 1
