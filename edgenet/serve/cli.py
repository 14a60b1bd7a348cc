"""`--serve` options for `edgenet run`, and turning them into a started LiveServer."""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO

DEFAULT_PORT = 8080
# A token from the environment stays out of `ps` output (e.g. a systemd EnvironmentFile).
TOKEN_ENV = "EDGENET_SERVE_TOKEN"


def _serve_fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"expected a rate in (0, 60], got {value}")
    return value


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("live view (for headless boards)")
    g.add_argument("--serve", metavar="[HOST:]PORT", nargs="?", const=str(DEFAULT_PORT), default=None,
                   help=f"serve the annotated video, labels and FPS over HTTP (default 127.0.0.1:{DEFAULT_PORT}); "
                        "any other address than 127.0.0.1/::1/localhost requires a token")
    g.add_argument("--serve-fps", type=_serve_fps, default=15.0, metavar="FPS",
                   help="at most this many JPEGs a second to viewers (default 15); encoding only while someone watches")
    g.add_argument("--token", default=None,
                   help=f"token the live view requires (default: ${TOKEN_ENV} if set, else generated and printed "
                        "when not on loopback)")


def open_server_from_args(args: argparse.Namespace, *, log: IO[str] | None = None):
    """A started LiveServer for ``--serve``, or None without it. Prints the address (with the token)."""
    from edgenet.serve.server import LiveServer, ServeError, parse_bind

    if getattr(args, "serve", None) is None:
        if getattr(args, "token", None):
            raise ServeError("--token only makes sense with --serve [HOST:]PORT")
        return None
    host, port = parse_bind(args.serve)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    server = LiveServer(host, port, token=token, serve_fps=args.serve_fps).start()
    log = log or sys.stderr
    if server.token and not server.token_generated:
        # The user chose this token: keep it out of logs (a service's stderr goes to the journal).
        shown, note = server.url.split("?")[0] + "?token=<your token>", ""
    else:
        shown, note = server.url, " (token generated for this run)" if server.token_generated else ""
    print(f"edgenet: live view at {shown}{note}", file=log, flush=True)
    return server
