"""Live view over real HTTP on loopback: MJPEG parts, /stats, /snapshot.jpg, tokens, bad viewers."""

from __future__ import annotations

import http.client
import io
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from edgenet.serve import LiveServer, ServeError, parse_bind, requires_token
from edgenet.serve.server import BOUNDARY
from tests.conftest import ROOT

W, H = 320, 240
TOP = [{"index": 2, "label": "blue", "score": 0.93}, {"index": 4, "label": "cyan", "score": 0.05}]


def frame_for(i: int, size=(H, W)) -> np.ndarray:
    """Frame i is a flat grey of level 40 + 10 * (i % 20): decodable back to i % 20 through JPEG."""
    frame = np.empty((*size, 3), np.uint8)
    frame[:] = 40 + 10 * (i % 20)
    return frame


def stats_for(i: int) -> dict:
    return {"frame": i, "top": TOP, "e2e_fps": 25.0, "model_fps": 125.0, "infer_ms": 8.0}


class Publisher:
    """A stand-in for the run loop: publishes frames at ``rate`` per second and times each call."""

    def __init__(self, server: LiveServer, rate: float = 100.0, frames=frame_for):
        self.server, self.rate, self.frames = server, rate, frames
        self.calls_ns: list[int] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        period = 1.0 / self.rate
        next_at = time.perf_counter()
        while not self._stop.is_set():
            frame = self.frames(self.count)
            t = time.perf_counter_ns()
            self.server.publish(frame, stats_for(self.count))
            self.calls_ns.append(time.perf_counter_ns() - t)
            self.count += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.perf_counter()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def server():
    srv = LiveServer("127.0.0.1", 0, serve_fps=30).start()
    yield srv
    srv.stop()


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def read_parts(response, count: int) -> list[tuple[dict, bytes]]:
    """Parse ``count`` parts of a multipart/x-mixed-replace body by its boundary and Content-Length."""
    parts = []
    for _ in range(count):
        line = response.readline()
        assert line == f"--{BOUNDARY}\r\n".encode(), line
        headers = {}
        while (line := response.readline()) != b"\r\n":
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body = response.read(int(headers["content-length"]))
        assert response.read(2) == b"\r\n"
        parts.append((headers, body))
    return parts


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def open_stream(server: LiveServer, path: str = "/stream.mjpg", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    return conn, conn.getresponse()


# --- addresses ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:9000", ("0.0.0.0", 9000)),
    ("localhost:80", ("localhost", 80)),
    ("[::1]:8080", ("::1", 8080)),
    ("[::]:8081", ("::", 8081)),
    (":7000", ("127.0.0.1", 7000)),
])
def test_parse_bind(text, expected):
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text, message", [
    ("http", "port must be a number"),
    ("host:70000", "port must be a number"),
    ("::1:8080", r"\[ADDR\]:PORT"),
    ("[::1]", r"\[ADDR\]:PORT"),
])
def test_parse_bind_rejects(text, message):
    with pytest.raises(ServeError, match=message):
        parse_bind(text)


@pytest.mark.parametrize("host, needed", [
    ("127.0.0.1", False), ("::1", False), ("localhost", False),
    ("127.0.0.2", True), ("0.0.0.0", True), ("::", True), ("192.168.1.20", True),
])
def test_token_needed_for_anything_but_loopback_names(host, needed):
    assert requires_token(host) is needed


# --- endpoints ---------------------------------------------------------------------------------
def test_mjpeg_parts_are_jpegs_of_the_published_frames(server):
    with Publisher(server, rate=100):
        conn, response = open_stream(server)
        assert response.status == 200
        assert response.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        parts = read_parts(response, 6)
        conn.close()
    levels = set()
    for headers, body in parts:
        assert headers["content-type"] == "image/jpeg"
        image = decode(body)
        assert image.shape == (H, W, 3)
        level = float(image.mean())
        assert abs((level - 40) / 10 - round((level - 40) / 10)) < 0.2  # one of the published greys
        levels.add(round((level - 40) / 10))
    assert len(levels) >= 2  # the stream moves on: later parts show later frames


def test_no_encoding_without_viewers_and_at_most_serve_fps(server):
    for i in range(50):
        server.publish(frame_for(i), stats_for(i))
    time.sleep(0.3)
    assert server.hub.encodes == 0  # nobody watching: the frames were never encoded
    with Publisher(server, rate=200):
        start = time.monotonic()
        conn, response = open_stream(server)
        read_parts(response, 10)
        conn.close()
        elapsed = time.monotonic() - start
    # 200 frames/s published, 30/s cap: encodes can only be fewer than the cap allows, never more.
    assert 10 <= server.hub.encodes <= server.hub.serve_fps * elapsed + 3


def fake_thermal(root, zones):
    for n, (kind, milli) in enumerate(zones):
        zone = root / "sys" / "class" / "thermal" / f"thermal_zone{n}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")


def test_stats_schema(tmp_path):
    fake_thermal(tmp_path, [("cpu-thermal", "48312")])
    with LiveServer("127.0.0.1", 0, sysfs_root=str(tmp_path)) as server:
        server.publish(frame_for(0), stats_for(0))
        time.sleep(1.05)  # the FPS history takes one sample a second, starting after the first frame
        for i in (1, 2):
            server.publish(frame_for(i), stats_for(i))
        status, headers, body = get(server.url + "stats")
    assert status == 200 and headers["Content-Type"] == "application/json"
    stats = json.loads(body)
    assert stats["frame"] == 2 and stats["published"] == 3
    assert stats["top"] == TOP
    assert stats["e2e_fps"] == 25.0 and stats["infer_ms"] == 8.0
    assert stats["model_fps"] == pytest.approx(125.0)  # 1000 / mean inference ms
    assert stats["cpu_temp_c"] == 48.3
    assert stats["viewers"] == 0 and stats["serve_fps"] == 15.0
    assert [set(h) for h in stats["history"]] == [{"age_s", "e2e_fps", "model_fps"}]
    assert stats["history"][0]["e2e_fps"] == 25.0
    for key in ("encodes", "encode_ms", "width", "height", "frames_sent", "frames_skipped", "uptime_s"):
        assert key in stats


def test_cpu_temperature_prefers_the_cpu_zone(tmp_path):
    fake_thermal(tmp_path / "pc", [("acpitz", "27800"), ("x86_pkg_temp", "55000"), ("broken", "n/a")])
    assert LiveServer("127.0.0.1", 0, sysfs_root=str(tmp_path / "pc")).cpu_temperature() == 55.0
    fake_thermal(tmp_path / "pi", [("cpu-thermal", "61850")])
    assert LiveServer("127.0.0.1", 0, sysfs_root=str(tmp_path / "pi")).cpu_temperature() == 61.9
    assert LiveServer("127.0.0.1", 0, sysfs_root=str(tmp_path / "none")).cpu_temperature() is None


def test_snapshot(server):
    status, headers, body = get(server.url + "snapshot.jpg")
    assert status == 503 and headers["Retry-After"] == "1"  # nothing published yet
    server.publish(frame_for(7), stats_for(7))
    status, headers, body = get(server.url + "snapshot.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    image = decode(body)
    assert image.shape == (H, W, 3) and abs(image.mean() - frame_for(7).mean()) < 2


def test_page_links_stream_and_stats(server):
    status, headers, body = get(server.url)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '"stream.mjpg"' in page and '"stats"' in page and "<canvas" in page
    assert "http://" not in page and "https://" not in page  # nothing from a CDN: boards may be offline
    assert get(server.url + "nope")[0] == 404


def test_loopback_server_answers_only_to_loopback_host_names(server):
    assert get(server.url + "stats", {"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    assert get(server.url + "stats", {"Host": f"localhost:{server.port}"})[0] == 200
    assert get(server.url + "stats", {"Host": "[::1]:9000"})[0] == 200  # ssh -L on another port


# --- tokens ------------------------------------------------------------------------------------
def test_token_required_off_loopback():
    with LiveServer("127.0.0.2", 0) as server:
        assert server.token and server.token_generated
        assert server.url == f"http://127.0.0.2:{server.port}/?token={server.token}"
        base = f"http://127.0.0.2:{server.port}"
        status, headers, _ = get(base + "/stats")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        for path in ("/", "/stream.mjpg", "/snapshot.jpg"):
            assert get(base + path)[0] == 401
        assert get(base + "/stats?token=wrong")[0] == 403
        assert get(base + "/stats", {"X-Edgenet-Token": server.token[:-1]})[0] == 403
        assert get(base + f"/stats?token={server.token}")[0] == 200
        assert get(base + "/stats", {"Authorization": f"Bearer {server.token}"})[0] == 200
        assert get(base + "/stats", {"X-Edgenet-Token": server.token})[0] == 200


def test_given_token_is_enforced_even_on_loopback():
    with LiveServer("127.0.0.1", 0, token="s3cret") as server:
        assert not server.token_generated
        assert server.url.endswith("/?token=s3cret")
        assert get(f"http://127.0.0.1:{server.port}/stats")[0] == 401
        assert get(server.url.replace("/?", "/stats?"))[0] == 200
    with pytest.raises(ServeError, match="must not be empty"):
        LiveServer("127.0.0.1", 0, token="")


def test_port_in_use_is_a_clear_error(server):
    with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{server.port}.*another port"):
        LiveServer("127.0.0.1", server.port).start()


# --- bad viewers -------------------------------------------------------------------------------
def noisy_frame(i: int) -> np.ndarray:
    # Noise makes ~200 kB JPEGs, so a viewer that never reads fills its socket buffers quickly.
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)


def test_slow_and_vanished_viewers_do_not_stall_publishing():
    server = LiveServer("127.0.0.1", 0, serve_fps=60, send_timeout=1.0).start()
    try:
        with Publisher(server, rate=100, frames=noisy_frame) as publisher:
            # A viewer that asks for the stream and never reads a byte.
            slow = socket.create_connection(("127.0.0.1", server.port))
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            # A viewer that reads one frame, then vanishes with a reset (no FIN).
            gone = socket.create_connection(("127.0.0.1", server.port))
            gone.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert gone.recv(65536).startswith(b"HTTP/1.0 200")
            gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            gone.close()
            # Meanwhile a healthy viewer keeps getting new frames.
            conn, response = open_stream(server)
            parts = read_parts(response, 30)
            conn.close()
            # The slow viewer is dropped after the send timeout; nobody is left watching.
            deadline = time.monotonic() + 15
            while server.viewers and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.viewers == 0
            sent_at_drop = server.frames_sent
        stuck_ms = max(publisher.calls_ns) / 1e6
        seconds = sum(publisher.calls_ns) / 1e9
    finally:
        slow.close()
        server.stop()
    assert all(decode(body).shape == (480, 640, 3) for _, body in parts)
    assert sent_at_drop >= 31
    # A publish that waited on any viewer would take the full 1 s send timeout (or forever);
    # storing a reference takes microseconds. The bound is loose for a noisy 2-core machine.
    assert stuck_ms < 250, f"a publish call took {stuck_ms:.0f} ms"
    assert seconds < 0.5
    assert publisher.count >= 100  # the loop kept publishing at its rate for the whole test


# --- the CLI -----------------------------------------------------------------------------------
def edgenet(*args, **kw):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.mark.parametrize("args, message", [
    (["--serve", "http"], "port must be a number"),
    (["--token", "x"], "--token only makes sense with --serve"),
])
def test_cli_errors(tiny_model, args, message):
    result = edgenet("run", "--model", str(tiny_model), "--source", "pattern://?frames=3", "--headless", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("edgenet: error: ")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_run_serves_while_running(tiny_model, tiny_labels):
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet", "run", "--model", str(tiny_model), "--labels", str(tiny_labels),
         "--source", "pattern://?width=320&height=240&frames=100000&fps=30", "--realtime", "--headless",
         "--max-frames", "600", "--serve", "127.0.0.1:0", "--serve-fps", "10"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("edgenet: live view at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        deadline = time.monotonic() + 20
        while True:
            stats = json.loads(get(url + "stats")[2])
            if stats["published"] >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stats["published"] >= 5 and len(stats["top"]) == 5
        assert {t["label"] for t in stats["top"]} <= set(tiny_labels.read_text().split())
        status, _, body = get(url + "snapshot.jpg")
        assert status == 200 and decode(body).shape == (240, 320, 3)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


# --- with the run loop -------------------------------------------------------------------------
@pytest.fixture
def red_clip(tmp_path):
    from tests.fixtures.drawings import draw

    path = str(tmp_path / "red.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(cv2.resize(draw("red", rng), (W, H)))
    writer.release()
    return path


def test_the_live_view_sink_hands_over_raw_frames(red_clip, tiny_model, tiny_labels):
    from edgenet.pipeline import RunConfig, run_pipeline
    from edgenet.serve.view import LiveView

    class RawServer:  # what LiveView hands the server, recorded
        def __init__(self):
            self.frames = []

        def publish(self, frame, stats, annotated=True):
            self.frames.append((frame, stats, annotated))

    server = RawServer()
    run_pipeline(RunConfig(str(tiny_model), red_clip, str(tiny_labels), headless=True, max_frames=5),
                 out=io.StringIO(), log=lambda m: None, sinks=[LiveView(server)])
    assert len(server.frames) == 5
    frame, result, annotated = server.frames[-1]
    assert result["top"][0]["label"] == "red" and annotated is False
    # Raw: the top-left corner is the clip's red, not the darkened annotation panel.
    assert frame[:40, :40, 2].mean() > 180


def test_live_server_as_a_sink_draws_the_labels_on_what_it_sends(red_clip, tiny_model, tiny_labels):
    from edgenet.pipeline import RunConfig, run_pipeline
    from edgenet.serve.view import LiveView

    with LiveServer("127.0.0.1", 0) as server:
        summary = run_pipeline(RunConfig(str(tiny_model), red_clip, str(tiny_labels), headless=True),
                               out=io.StringIO(), log=lambda m: None, sinks=[LiveView(server)])
        assert server.hub.encodes == 0  # nobody watched during the run: nothing drawn, nothing encoded
        status, _, body = get(server.url + "snapshot.jpg")  # the last frame, still there after the run
        stats = json.loads(get(server.url + "stats")[2])
    assert summary.frames == 20 and stats["published"] == 20 and stats["top"][0]["label"] == "red"
    image = decode(body)
    assert status == 200 and image.shape == (H, W, 3)
    panel = image[5:30, 5:150]
    yellow = (panel[..., 2] > 150) & (panel[..., 1] > 150) & (panel[..., 0] < 120)  # the FPS line
    assert yellow.sum() > 30
    assert image[H - 40:, W - 40:, 2].mean() > 180 and image[H - 40:, W - 40:, :2].mean() < 80  # red clip


# --- CLI helpers in-process ----------------------------------------------------------------------
def serve_args(*argv):
    import argparse

    from edgenet.cli.run import add_serve_options

    parser = argparse.ArgumentParser()
    add_serve_options(parser)
    return parser.parse_args(list(argv))


def open_server_from_args(args, log):
    from edgenet.cli.run import serve_config
    from edgenet.serve.view import start_live_view

    config = serve_config(args)
    return None if config is None else start_live_view(config, log=log)


def test_open_server_from_args(monkeypatch):
    monkeypatch.delenv("EDGENET_SERVE_TOKEN", raising=False)
    assert open_server_from_args(serve_args(), log=None) is None
    args = serve_args("--serve")
    assert args.serve == "8080" and args.serve_fps == 15.0

    out = io.StringIO()
    server = open_server_from_args(serve_args("--serve", "127.0.0.2:0", "--serve-fps", "5"), log=out)
    try:
        assert server.hub.serve_fps == 5.0 and server.token_generated
        assert out.getvalue() == f"edgenet: live view at {server.url} (token generated for this run)\n"
        assert server.token in out.getvalue()
    finally:
        server.stop()

    monkeypatch.setenv("EDGENET_SERVE_TOKEN", "from-env")
    out = io.StringIO()
    server = open_server_from_args(serve_args("--serve", "127.0.0.1:0"), log=out)
    try:
        assert server.token == "from-env"
        assert out.getvalue() == f"edgenet: live view at http://127.0.0.1:{server.port}/?token=<your token>\n"
        assert get(f"http://127.0.0.1:{server.port}/stats")[0] == 401
        assert get(f"http://127.0.0.1:{server.port}/stats?token=from-env")[0] == 200
    finally:
        server.stop()


@pytest.mark.parametrize("argv", [["--serve-fps", "0"], ["--serve-fps", "x"]])
def test_serve_fps_must_be_a_positive_number(argv):
    with pytest.raises(SystemExit):
        serve_args(*argv)


@pytest.mark.parametrize("argv, message", [
    (["--serve", "--serve-fps", "100"], "--serve-fps must be a rate in (0, 60], got 100"),
    (["--serve", "a:b:c"], "write an IPv6 address as [ADDR]:PORT"),
    (["--token", "t"], "--token only makes sense with --serve"),
])
def test_serve_config_refuses_bad_options_before_anything_starts(argv, message):
    from edgenet.cli.run import serve_config
    from edgenet.errors import EdgenetError

    with pytest.raises(EdgenetError) as err:
        serve_config(serve_args(*argv))
    assert message in str(err.value) and err.value.exit_code == 2


def test_several_viewers_share_one_encoding(server):
    with Publisher(server, rate=100):
        streams = [open_stream(server) for _ in range(3)]
        received = [[body for _, body in read_parts(response, 8)] for _, response in streams]
        viewers_while_open = json.loads(get(server.url + "stats")[2])["viewers"]
        for conn, _ in streams:
            conn.close()
    assert viewers_while_open == 3
    assert all(decode(jpeg).shape == (H, W, 3) for jpegs in received for jpeg in jpegs)
    # The same JPEG bytes reached different viewers: encoded once, shared.
    assert set(received[0]) & set(received[1]) & set(received[2])


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        server = LiveServer("::1", 0).start()
    except ServeError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert server.token is None and server.url == f"http://[::1]:{server.port}/"
        server.publish(frame_for(3), stats_for(3))
        status, _, body = get(server.url + "stats")
        assert status == 200 and json.loads(body)["frame"] == 3
    finally:
        server.stop()


def request(server: LiveServer, method: str, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.headers), r.read()
    finally:
        conn.close()


def test_head_answers_like_get_without_a_body(server):
    server.publish(frame_for(3), stats_for(3))
    for path in ("/", "/stats", "/snapshot.jpg"):
        status, headers, body = request(server, "HEAD", path)
        got = get(server.url + path.lstrip("/"))
        assert status == 200 == got[0] and body == b"", path
        assert headers["Content-Type"] == got[1]["Content-Type"], path
    # The stream's headers, and no stream (no viewer counted).
    status, headers, body = request(server, "HEAD", "/stream.mjpg")
    assert status == 200 and headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    assert body == b"" and server.viewers == 0 and server.frames_sent == 0
    assert request(server, "HEAD", "/nope")[0] == 404


def test_other_methods_are_405_naming_get_and_head(server):
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = request(server, method, "/stats")
        assert status == 405 and headers["Allow"] == "GET, HEAD", method


def test_oversized_requests_refused_without_tracebacks(server, capfd):
    payloads = [b"GET /stats HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
                b"GET /stats HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(150)) + b"\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"]
    for payload in payloads:
        # A client that sends too much and hangs up hard (RST) before the refusal is written.
        c = socket.create_connection(("127.0.0.1", server.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            c.sendall(payload)
        except OSError:
            pass
        c.close()
    for payload, code in zip(payloads, (431, 431, 414)):  # a client that waits gets the refusal
        c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        assert c.recv(64).split(b"\r\n")[0].split(b" ")[1] == str(code).encode()
        c.close()
    time.sleep(0.5)  # the refused requests' threads finish
    assert get(server.url + "stats")[0] == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 1, err
