"""A real HTTP server on 127.0.0.1 serving model archives in the official layout, with faults on demand.

``official_archive(folder, archive, tflite)`` writes ``<archive>.tgz`` holding ``<archive>.tflite``
beside checkpoint-like files, as Google's MobileNet V1 archives do. ``ModelServer`` serves a folder
and can, per file, answer 404/500, cut the body short, stall, or send slowly; it records every request.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1533168000
    tar.addfile(info, io.BytesIO(data))


def official_archive(folder: Path, archive: str, tflite: Path, extra: list[tarfile.TarInfo] | None = None) -> Path:
    """``folder/<archive>.tgz`` laid out like the official ones: ``./<archive>.tflite`` among checkpoint files."""
    path = folder / f"{archive}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, f"./{archive}.ckpt.data-00000-of-00001", b"\0" * 4096)
        _add(tar, f"./{archive}.ckpt.index", b"index")
        _add(tar, f"./{archive}.ckpt.meta", b"meta")
        _add(tar, f"./{archive}_eval.pbtxt", b"node {}")
        _add(tar, f"./{archive}_frozen.pb", b"frozen")
        _add(tar, f"./{archive}_info.txt", b"Model: " + archive.encode())
        _add(tar, f"./{archive}.tflite", tflite.read_bytes())
        for info in extra or []:
            if info.isfile():
                tar.addfile(info, io.BytesIO(b"x" * info.size))
            else:
                tar.addfile(info)
    return path


def write_index(path: Path, entries: list[dict], default: str | None = None) -> Path:
    data: dict = {"models": entries}
    if default:
        data["default"] = default
    path.write_text(json.dumps(data, indent=2))
    return path


class ModelServer:
    """Serves ``root`` on 127.0.0.1. ``faults[path] = "404" | "500" | "truncate" | "stall" | "stall-headers"
    | ("slow", seconds)``; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path, stall_seconds: float = 5.0):
        self.root = root
        self.faults: dict[str, object] = {}
        self.requests: list[str] = []
        self.stall_seconds = stall_seconds
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                fault = server.faults.get(self.path)
                if fault in ("404", "500"):
                    self.send_error(int(fault))
                    return
                if fault == "stall-headers":
                    server._stop.wait(server.stall_seconds)
                    return
                file = server.root / self.path.lstrip("/")
                if not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "stall":
                    self.wfile.write(data[:1000])
                    self.wfile.flush()
                    server._stop.wait(server.stall_seconds)
                    return
                if isinstance(fault, tuple) and fault[0] == "slow":
                    pieces = 10
                    step = -(-len(data) // pieces)
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        time.sleep(fault[1] / pieces)
                    return
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def count(self, name: str) -> int:
        return sum(1 for r in self.requests if r == "/" + name)

    def start(self) -> "ModelServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
