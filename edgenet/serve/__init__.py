"""Live view for headless boards: ``edgenet run --serve [HOST:]PORT``.

``LiveServer.publish`` is the run loop's ``on_frame``; it only stores a reference. JPEG encoding
happens in the server's own thread, only while someone watches, at most ``serve_fps`` a second.
Standard library HTTP server only: nothing the board must compile.
"""

from importlib import import_module

# Lazy, so that `edgenet run --help` (which imports edgenet.serve.cli) does not load http.server.
_EXPORTS = {
    "LiveServer": "server", "ServeError": "server", "parse_bind": "server", "requires_token": "server",
    "add_serve_options": "cli", "open_server_from_args": "cli",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"edgenet.serve.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'edgenet.serve' has no attribute {name!r}")
