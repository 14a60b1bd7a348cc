"""Live view for headless boards: ``edgenet run --serve [HOST:]PORT``.

``LiveView`` (the run loop's sink) hands ``LiveServer.publish`` the raw frame; it only stores a
reference. Drawing and JPEG encoding happen in the server's own thread, only while someone watches,
at most ``serve_fps`` a second.
Standard library HTTP server only: nothing the board must compile.
"""

from importlib import import_module

# The live view's defaults, here so that `edgenet run --help` can show them without loading the server.
DEFAULT_PORT = 8080
MAX_SERVE_FPS = 60.0
# A token from the environment stays out of `ps` output (e.g. a systemd EnvironmentFile).
TOKEN_ENV = "EDGENET_SERVE_TOKEN"

# Lazy, so that importing edgenet.serve does not load http.server.
_EXPORTS = {
    "LiveServer": "server", "ServeError": "server", "parse_bind": "server", "requires_token": "server",
    "LiveView": "view", "ServeConfig": "view", "start_live_view": "view",
}
__all__ = ["DEFAULT_PORT", "MAX_SERVE_FPS", "TOKEN_ENV", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"edgenet.serve.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'edgenet.serve' has no attribute {name!r}")
