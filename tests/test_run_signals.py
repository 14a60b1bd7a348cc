"""`edgenet run` stopped by a signal ends cleanly: the recording is closed (a player opens it), the
summary is printed and written, and the exit code is 0 for SIGTERM (systemctl stop) and SIGHUP (a
closed terminal), 130 for Ctrl-C. A real process, a real signal."""

import json
import signal
import subprocess
import sys
import time

import cv2
import pytest

from tests.test_cli import TINY
from tests.conftest import ROOT


def start_run(tmp_path, *extra):
    record, summary = tmp_path / "out.mp4", tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet", "run", "--model", TINY, "--source", "pattern://?width=160&height=120",
         "--headless", "--threads", "1", "--record", str(record), "--summary-json", str(summary), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    # Frames are being written once the recording grows: then the loop is running.
    while not (record.exists() and record.stat().st_size > 20_000):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started recording"
        time.sleep(0.1)
    return proc, record, summary


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 0), (signal.SIGHUP, 0), (signal.SIGINT, 130)])
def test_a_signal_closes_the_recording_and_writes_the_summary(tmp_path, signum, code):
    proc, record, summary = start_run(tmp_path)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert f"edgenet: stopped by {signal.Signals(signum).name} after" in err
    assert "end-to-end" in out  # the summary table
    data = json.loads(summary.read_text())
    assert data["frames"] > 0 and data["stopped_by"] == signal.Signals(signum).name
    video = cv2.VideoCapture(str(record))
    try:
        assert video.isOpened()
        count = 0
        while True:
            ok, frame = video.read()
            if not ok:
                break
            assert frame.shape == (120, 160, 3)
            count += 1
    finally:
        video.release()
    assert count > 0 and count >= data["frames"] - 1, (count, data["frames"])



def test_the_api_loop_stops_when_asked_and_closes_the_recording(tmp_path):
    import threading

    import edgenet

    stop, seen = threading.Event(), []

    def on_result(frame, predictions):
        seen.append(frame.shape)
        if len(seen) == 5:
            stop.set()  # as a signal handler or another thread would

    record = tmp_path / "api.mp4"
    summary = edgenet.run("pattern://?width=160&height=120", TINY, threads=1, record=str(record),
                          on_result=on_result, stop=stop)
    assert summary.frames == len(seen) == 5  # an endless source, ended by the flag after the frame in hand
    video = cv2.VideoCapture(str(record))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 5 and video.read()[0]
    video.release()
