"""Errors of the deploy side; the CLI prints them on one line and exits 2."""

from __future__ import annotations

from edgenet.errors import EdgenetError


class DeployError(EdgenetError):
    """A deploy step failed on the board (the previous release is still current)."""


class HostError(DeployError):
    """A HOST argument or hosts file that cannot be used."""


class ConnectError(DeployError):
    """The board cannot be reached: unreachable, timeout, authentication."""


class HostKeyError(ConnectError):
    """Unknown or changed host key."""


class PreflightError(DeployError):
    """The board cannot run edgenet: no Python, full disk, unsupported architecture."""


class RemoteCommandError(DeployError):
    """A command on the board exited non-zero."""


class Interrupted(DeployError):
    """The user interrupted (Ctrl-C): the board was left as it was before this deploy."""

    exit_code = 130
