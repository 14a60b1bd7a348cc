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


class StallingHandler(BaseHTTPRequestHandler):
    """A camera that stays connected but stops sending: 5 frames on the first connection, then silence;
    later connections are accepted and get nothing at all. ``quiet`` ends the silences."""

    quiet = threading.Event()
    connections = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).connections += 1
        try:
            if type(self).connections == 1:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for i in range(5):
                    data = cv2.imencode(".jpg", np.full((120, 160, 3), 40 * i, np.uint8))[1].tobytes()
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data))
                    self.wfile.write(data + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.01)
            self.quiet.wait(60)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def stalling_server():
    StallingHandler.quiet = threading.Event()
    StallingHandler.connections = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StallingHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/stream.mjpg"
    StallingHandler.quiet.set()
    httpd.shutdown()
    httpd.server_close()


def test_a_stalled_stream_is_lost_after_the_stall_timeout_not_ffmpegs_30_s(stalling_server):
    src = open_source(stalling_server, stall_timeout=1.0)
    try:
        for _ in range(5):
            assert src.read().shape == (120, 160, 3)
        started = time.perf_counter()
        with pytest.raises(SourceLost):
            src.read()
        assert time.perf_counter() - started < 10  # FFmpeg alone waits 30 s
    finally:
        src.close()


def test_run_gives_up_on_a_stalled_stream_after_reconnect_timeout(stalling_server):
    from tests.test_cli import TINY, assert_one_line_error, edgenet

    # The camera stalls after 5 frames, and every reconnect is accepted and never answered: the run must
    # notice the stall and give up after --reconnect-timeout (before, the first word came after 30 s and
    # it retried forever: this subprocess's timeout).
    r = edgenet("run", "--model", TINY, "--source", stalling_server, "--headless", "--threads", "1",
                "--reconnect-timeout", "2", timeout=60)
    assert_one_line_error(r, "giving up")
    assert "stopped delivering frames; reconnecting" in r.stderr
    assert StallingHandler.connections >= 2  # it did try to reconnect
