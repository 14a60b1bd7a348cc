"""The live-view HTTP server: the standard library's threading server, one thread per request.

Endpoints: ``/`` (the page), ``/stream.mjpg`` (multipart MJPEG), ``/stats`` (JSON),
``/snapshot.jpg``. On 127.0.0.1 / ::1 / localhost no token is needed (but the Host header must be
a loopback name, which stops DNS-rebinding pages from reading the stream); on any other address a
token is required on every request, as ``?token=`` or an ``Authorization: Bearer`` /
``X-Edgenet-Token`` header. Other 127.x.y.z addresses count as "other": the rule stays one line.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np

from edgenet.board.thermal import cpu_temperature
from edgenet.errors import EdgenetError
from edgenet.serve import DEFAULT_PORT
from edgenet.serve.hub import FrameHub
from edgenet.serve.page import render_page

LOOPBACK = ("127.0.0.1", "::1", "localhost")
BOUNDARY = "edgenetframe"
# A viewer whose socket accepts nothing for this long is dropped (its thread ends).
SEND_TIMEOUT = 10.0


class ServeError(EdgenetError):
    """The live-view server cannot start (bad --serve address, port in use, token missing)."""


def requires_token(host: str) -> bool:
    return host not in LOOPBACK


def parse_bind(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); the host defaults to 127.0.0.1."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ServeError(f"--serve {text!r}: write an IPv6 address as [ADDR]:PORT, e.g. [::1]:8080")
    elif text.count(":") > 1:
        raise ServeError(f"--serve {text!r}: write an IPv6 address as [ADDR]:PORT, e.g. [::1]:8080")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    else:
        host, port = "127.0.0.1", text
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ServeError(f"--serve {text!r}: the port must be a number in 0..65535, e.g. --serve 8080")
    return host or "127.0.0.1", int(port)


def _server_class(host: str) -> type[ThreadingHTTPServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address) -> None:
            """socketserver prints a traceback per failed request; a viewer that hangs up (often right
            after being refused a request too large) is no news, and anything else is one line."""
            exc = sys.exc_info()[1]
            if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
                return
            print(f"edgenet: live view: request from {client_address[0]} failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)

    return Server


class LiveServer:
    """``publish(frame, stats)`` from the loop; browsers get the page, MJPEG, stats and snapshots."""

    def __init__(self, bind: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
                 serve_fps: float = 15.0, quality: int = 80, sysfs_root: str = "/",
                 send_timeout: float = SEND_TIMEOUT):
        if token is not None and not token:
            raise ServeError("--token must not be empty")
        self.bind = bind
        self.port = port
        self.token = token if token is not None else (secrets.token_urlsafe(16) if requires_token(bind) else None)
        self.token_generated = token is None and self.token is not None
        self.hub = FrameHub(serve_fps=serve_fps, quality=quality)
        self.sysfs_root = sysfs_root  # prefix of /sys/class/thermal (a fake tree in tests)
        self.send_timeout = send_timeout
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._viewers = 0
        self._viewers_lock = threading.Lock()
        self.frames_sent = 0
        self.frames_skipped = 0  # JPEGs a slow viewer never got because a newer one replaced them

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "LiveServer":
        handler = type("Handler", (_Handler,), {"live": self, "timeout": self.send_timeout})
        try:
            self._httpd = _server_class(self.bind)((self.bind, self.port), handler)
        except OSError as exc:
            raise ServeError(f"cannot listen on {self.bind}:{self.port}: {exc.strerror or exc}; "
                             "pick another port with --serve [HOST:]PORT") from None
        self.port = self._httpd.server_address[1]
        self.hub.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="edgenet-serve", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.hub.stop()  # ends every stream loop
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "LiveServer":
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = self.bind
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()  # what a laptop on the same network can open
        if ":" in host:
            host = f"[{host}]"
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={quote(self.token)}" if self.token else base

    # --- loop side -------------------------------------------------------------------------------
    def publish(self, frame_bgr: np.ndarray, stats: dict, annotated: bool = True) -> None:
        """Called by the run loop once per frame: stores a reference, never blocks.

        ``annotated=False`` when ``frame_bgr`` is the raw camera frame: the labels and FPS in
        ``stats`` are then drawn in the encoder thread, only on frames a viewer gets.
        """
        self.hub.publish(frame_bgr, stats, annotated)

    # --- for handlers ----------------------------------------------------------------------------
    @property
    def viewers(self) -> int:
        return self._viewers

    def _viewer(self, delta: int) -> None:
        with self._viewers_lock:
            self._viewers += delta

    def _count(self, sent: int = 0, skipped: int = 0) -> None:
        with self._viewers_lock:
            self.frames_sent += sent
            self.frames_skipped += skipped

    def cpu_temperature(self) -> float | None:
        """The CPU zone's °C from /sys/class/thermal, None where there is none."""
        celsius = cpu_temperature(self.sysfs_root)
        return None if celsius is None else round(celsius, 1)

    def stats(self) -> dict:
        latest, published, history = self.hub.snapshot()
        encoded = self.hub.last_encoded
        now = time.monotonic()
        return {
            "frame": latest.get("frame"),
            "top": latest.get("top", []),
            "e2e_fps": latest.get("e2e_fps"),
            "model_fps": round(self.hub.model_fps_1s, 2) if self.hub.model_fps_1s else latest.get("model_fps"),
            "infer_ms": latest.get("infer_ms"),
            "cpu_temp_c": self.cpu_temperature(),
            "history": [{"age_s": round(now - t, 1), "e2e_fps": round(e, 2), "model_fps": round(m, 2)}
                        for t, e, m in history],
            "published": published,
            "viewers": self._viewers,
            "serve_fps": self.hub.serve_fps,
            "encodes": self.hub.encodes,
            "encode_ms": round(encoded.encode_ms, 2) if encoded else None,
            "width": encoded.width if encoded else None,
            "height": encoded.height if encoded else None,
            "frames_sent": self.frames_sent,
            "frames_skipped": self.frames_skipped,
            "uptime_s": round(self.hub.uptime, 1),
        }


class _Handler(BaseHTTPRequestHandler):
    live: LiveServer  # set on the per-server subclass
    server_version = "edgenet"
    timeout = SEND_TIMEOUT  # socket timeout: a viewer that stops reading is dropped after this
    head_only = False  # HEAD: every header GET would send, no body
    ALLOWED = "GET, HEAD"

    def parse_request(self) -> bool:
        """The standard parse, then any method but GET and HEAD is a 405 naming those two (the base
        class would answer 501, "not implemented", as if the server could not understand it)."""
        if not super().parse_request():
            return False
        if self.command not in ("GET", "HEAD"):
            self._plain(405, f"method {self.command} not allowed: this server answers GET and HEAD\n",
                        {"Allow": self.ALLOWED})
            return False
        return True

    def log_message(self, *args) -> None:  # keep the run's output clean
        pass

    # --- auth ------------------------------------------------------------------------------------
    def _authorised(self, query: dict) -> bool:
        token = self.live.token
        if token is None:
            host = (self.headers.get("Host") or "").strip()
            name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] or host
            if name not in LOOPBACK:
                self._plain(403, "forbidden: this server answers only to localhost / 127.0.0.1 / [::1]\n")
                return False
            return True
        given = (query.get("token") or [None])[0] or self.headers.get("X-Edgenet-Token")
        auth = self.headers.get("Authorization") or ""
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given:
            self._plain(401, "token required: open the URL printed at start (…/?token=…)\n",
                        {"WWW-Authenticate": 'Bearer realm="edgenet"'})
            return False
        if not hmac.compare_digest(given.encode(), token.encode()):
            self._plain(403, "wrong token\n")
            return False
        return True

    def _plain(self, code: int, text: str, headers: dict | None = None) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _body(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    # --- routes ----------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        """A browser's or a monitor's health check: GET's status and headers, no body (no stream)."""
        self.head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self._authorised(parse_qs(url.query)):
            return
        route = {"/": self._page, "/index.html": self._page, "/stream.mjpg": self._stream,
                 "/stats": self._stats, "/snapshot.jpg": self._snapshot}.get(url.path)
        if route is None:
            self._plain(404, "not found: try /, /stream.mjpg, /stats or /snapshot.jpg\n")
            return
        try:
            route()
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True  # the viewer went away or stopped reading: forget it

    def _page(self) -> None:
        self._body("text/html; charset=utf-8", render_page().encode())

    def _stats(self) -> None:
        self._body("application/json", json.dumps(self.live.stats()).encode())

    def _snapshot(self) -> None:
        hub = self.live.hub
        seq = hub.current_seq()
        if seq == 0:
            self._plain(503, "no frame yet: the model has not produced a result\n", {"Retry-After": "1"})
            return
        hub.add_demand()
        try:
            encoded = hub.next_jpeg(after_seq=seq - 1, timeout=5.0)
        finally:
            hub.remove_demand()
        if encoded is None:
            self._plain(503, "no frame within 5 s\n", {"Retry-After": "1"})
            return
        self._body("image/jpeg", encoded.jpeg)

    def _stream(self) -> None:
        live, hub = self.live, self.live.hub
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.head_only:
            return
        live._viewer(+1)
        hub.add_demand()
        try:
            last, last_number = 0, 0
            while not hub.stopped:
                encoded = hub.next_jpeg(after_seq=last, timeout=1.0)
                if encoded is None:
                    continue
                if last_number:
                    # JPEGs encoded while this viewer was still writing an earlier one: skipped.
                    live._count(skipped=encoded.number - last_number - 1)
                last, last_number = encoded.seq, encoded.number
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(encoded.jpeg)}\r\n\r\n".encode()
                    + encoded.jpeg + b"\r\n"
                )
                self.wfile.flush()
                live._count(sent=1)
        finally:
            hub.remove_demand()
            live._viewer(-1)
