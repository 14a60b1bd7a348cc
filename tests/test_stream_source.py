"""http:// sources through OpenCV/FFmpeg, against a real MJPEG server on loopback."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from edgenet.errors import SourceError, SourceLost
from edgenet.sources import open_source


class MJPEGHandler(BaseHTTPRequestHandler):
    frames = 30

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/stream.mjpg":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for i in range(self.frames):
                img = np.zeros((120, 160, 3), np.uint8)
                img[:, :, 2] = 255  # red
                img[:10, :10] = i
                data = cv2.imencode(".jpg", img)[1].tobytes()
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data))
                self.wfile.write(data + b"\r\n")
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), MJPEGHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_mjpeg_over_http_is_a_live_source(server):
    src = open_source(f"{server}/stream.mjpg")
    assert src.live
    frame = src.read()
    assert frame.shape == (120, 160, 3)
    assert frame[60, 80, 2] > 200 and frame[60, 80, 0] < 50  # red, decoded as BGR
    frames = 1
    with pytest.raises(SourceLost):  # the server stops after 30 frames: for a live source that is a loss
        for _ in range(100):
            src.read()
            frames += 1
    assert 25 <= frames <= 30
    src.close()


def test_unreachable_stream_is_an_error(server):
    with pytest.raises(SourceError, match="cannot open"):
        open_source(f"{server}/nothing-here.mjpg")
