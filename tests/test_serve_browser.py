"""A real browser on the live view: headless Chromium loads the page of a real `edgenet run --serve`
over a generated blue clip with the tiny model, and the screenshot must show the video (blue where
the clip is blue) and the labels (the top label's bar as wide as its score, its text in the DOM)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.fixtures.drawings import draw

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
WINDOW = (1024, 640)
# Fixed layout of the page (edgenet/serve/page.py): header 40 px, 16 px padding, video 640 px wide
# at the left, the 320 px panel to its right.
VIDEO_X, VIDEO_Y, VIDEO_W = 16, 56, 640
PANEL_X, PANEL_W = 16 + 640 + 16, 320
BAR_BGR = (0x49, 0x84, 0x1E)  # #1e8449, the label bars' colour


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium; scripts/test.sh does it in CI)")
    return CHROMIUM


@pytest.fixture(scope="module")
def blue_clip(tmp_path_factory):
    """15 s of drawn blue frames (320x240, noisy), the class the tiny model knows best."""
    path = str(tmp_path_factory.mktemp("clip") / "blue.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    rng = np.random.default_rng(1)
    for _ in range(450):
        writer.write(cv2.resize(draw("blue", rng), (320, 240)))
    writer.release()
    return path


@pytest.fixture(scope="module")
def live_run(blue_clip, tiny_model, tiny_labels):
    """A real run serving on 127.0.0.2, so the page must carry the generated token to the stream and stats."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet", "run", "--model", str(tiny_model), "--labels", str(tiny_labels),
         "--source", blue_clip, "--realtime", "--headless", "--threads", "1", "--serve", "127.0.0.2:0"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("edgenet: live view at "), line
        url = line.split(" at ")[1].split()[0]  # http://127.0.0.2:PORT/?token=...
        assert "?token=" in url
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with urllib.request.urlopen(stats_url(url), timeout=10) as r:
                if len(json.load(r)["history"]) >= 3:  # 3 s of FPS history: a line on the chart
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def stats_url(page_url: str) -> str:
    base, _, query = page_url.partition("?")
    return f"{base}stats?{query}"


def chromium_run(binary, tmp_path, *args, timeout=60, window=WINDOW):
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={window[0]},{window[1]}", "--virtual-time-budget=3000", *args],
        capture_output=True, text=True, timeout=timeout)


def test_page_shows_video_and_labels(chromium, live_run, tmp_path):
    shot = tmp_path / "page.png"
    result = chromium_run(chromium, tmp_path, f"--screenshot={shot}", live_run)
    assert shot.exists(), result.stderr[-2000:]
    with urllib.request.urlopen(stats_url(live_run), timeout=10) as r:
        stats = json.load(r)
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])

    # The video: the clip is blue, so below the annotation panel the <img> must be blue like the frames.
    # (A blank <img> is black; a broken one shows nothing at all.)
    clip_bgr = draw("blue", np.random.default_rng(1)).reshape(-1, 3).mean(axis=0)
    video = image[VIDEO_Y + 300: VIDEO_Y + 470, VIDEO_X + 400: VIDEO_X + VIDEO_W - 10].reshape(-1, 3).mean(axis=0)
    assert np.abs(video - clip_bgr).max() < 40, f"video region {video} vs clip {clip_bgr}"
    # The annotation drawn by the run (dark panel, yellow FPS line) is in the video's top left.
    overlay = image[VIDEO_Y: VIDEO_Y + 120, VIDEO_X: VIDEO_X + 300]
    yellow = (overlay[..., 2] > 180) & (overlay[..., 1] > 180) & (overlay[..., 0] < 100)
    assert yellow.sum() > 100

    # The labels: bars in the panel, the first as wide as the top score, with text drawn over them.
    panel = image[:, PANEL_X: PANEL_X + PANEL_W].astype(int)
    bar = (np.abs(panel - BAR_BGR).sum(axis=2) < 30)
    rows = np.nonzero(bar.sum(axis=1) > 0)[0]
    assert rows.size, "no label bars on the page"
    first = rows[rows < rows[0] + 30]
    width = bar[first].nonzero()[1].max() + 1
    top = stats["top"][0]
    assert top["label"] == "blue"
    assert abs(width - top["score"] * PANEL_W) <= 0.06 * PANEL_W, (width, top)
    text = panel[first].min(axis=2) > 200  # light label text on the bar
    assert text.sum() > 30
    # The FPS chart below the labels has the end-to-end series (#f1c40f) drawn in it.
    # The chart is the block of rows below the labels whose background is the card colour (#1f242a);
    # the legend's yellow square below it does not count.
    below = panel[rows[-1] + 10:]
    card = (np.abs(below - (0x2A, 0x24, 0x1F)).sum(axis=2) < 12).mean(axis=1) > 0.5
    # Gridlines and the plotted lines interrupt the card colour for a row or two: merge gaps <= 4 rows.
    card_rows = np.nonzero(card)[0]
    runs = np.split(card_rows, np.nonzero(np.diff(card_rows) > 4)[0] + 1)
    chart = below[runs[-1][0]: runs[-1][-1] + 1]  # the last block: the chart (label rows come before)
    assert 100 <= len(chart) <= 130, f"no 120 px FPS chart ({len(chart)} rows)"
    assert (np.abs(chart - (0x0F, 0xC4, 0xF1)).sum(axis=2) < 40).sum() > 20

    # The FPS numbers and the chart were filled in by the page's script.
    dom = chromium_run(chromium, tmp_path, "--dump-dom", live_run).stdout
    assert '<span>blue</span>' in dom
    assert 'id="e2e">–<' not in dom and 'id="temp">' in dom
    # The page's own stream makes it a viewer: never "0 viewers" while it shows video.
    assert re.search(r'id="source">frame \d+ · [1-9]\d* viewers?<', dom), dom[:2000]


def test_page_fits_a_phone_screen(chromium, live_run, tmp_path):
    """400 px wide: the video shrinks to the screen (no sideways scrolling), the panel goes below it."""
    shot = tmp_path / "phone.png"
    result = chromium_run(chromium, tmp_path, f"--screenshot={shot}", live_run, window=(400, 800))
    assert shot.exists(), result.stderr[-2000:]
    image = cv2.imread(str(shot)).astype(int)
    assert image.shape[:2] == (800, 400)
    background = np.array((0x1C, 0x18, 0x15))  # #15181c
    # Inside the video's first 120 rows (its minimum height: black until the first frame, then video),
    # the video reaches the right margin (16 px) and stops there: 368 px wide, not 640.
    rows = image[VIDEO_Y + 20: VIDEO_Y + 110]
    assert (np.abs(rows[:, 200:380] - background).sum(axis=2) > 30).mean() > 0.9
    assert np.abs(rows[:, 388:].reshape(-1, 3).mean(axis=0) - background).max() < 8
    # The panel's number cards (#1f242a) are below the video, at the left margin.
    card = (np.abs(image[VIDEO_Y + 120:, 16:336] - (0x2A, 0x24, 0x1F)).sum(axis=2) < 12)
    assert card.sum() > 20_000
