"""The live view as ``edgenet run`` uses it: its configuration, starting it, and the loop's sink.

``ServeConfig`` is validated on construction; ``start_live_view`` starts the server and prints its
address once (the token shown only when generated here); ``LiveView`` is the run loop's sink, which
hands over the raw frame, so with nobody watching ``--serve`` costs the loop one reference swap a
frame and the labels are drawn only on frames a viewer gets.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import IO

from edgenet.serve import DEFAULT_PORT, MAX_SERVE_FPS, TOKEN_ENV
from edgenet.serve.server import LiveServer, ServeError, parse_bind
from edgenet.sinks import FrameResult, Sink


@dataclass(frozen=True)
class ServeConfig:
    bind: str = str(DEFAULT_PORT)  # [HOST:]PORT, the host defaulting to 127.0.0.1
    serve_fps: float = 15.0  # at most this many JPEGs a second to viewers
    token: str | None = None  # default: $EDGENET_SERVE_TOKEN, else generated when not on loopback

    def __post_init__(self) -> None:
        parse_bind(self.bind)  # ServeError with the accepted forms
        if not 0 < self.serve_fps <= MAX_SERVE_FPS:
            raise ServeError(f"--serve-fps must be a rate in (0, {MAX_SERVE_FPS:g}], got {self.serve_fps:g}")


def start_live_view(config: ServeConfig, *, log: IO[str] | None = None) -> LiveServer:
    """A started LiveServer for ``config``; prints the address to ``log`` (stderr by default)."""
    host, port = parse_bind(config.bind)
    token = config.token or os.environ.get(TOKEN_ENV) or None
    server = LiveServer(host, port, token=token, serve_fps=config.serve_fps).start()
    log = log or sys.stderr
    if server.token and not server.token_generated:
        # The user chose this token: keep it out of logs (a service's stderr goes to the journal).
        shown, note = server.url.split("?")[0] + "?token=<your token>", ""
    else:
        shown, note = server.url, " (token generated for this run)" if server.token_generated else ""
    print(f"edgenet: live view at {shown}{note}", file=log, flush=True)
    return server


class LiveView(Sink):
    """The run loop's sink for a LiveServer: the raw frame and its stats, nothing drawn here. The
    server outlives the run (its last frame stays visible); whoever started it stops it."""

    def __init__(self, server: LiveServer):
        self.server = server

    def write(self, result: FrameResult) -> bool:
        self.server.publish(result.image, result.stats(), annotated=False)
        return True
