"""A source that yields nothing is an error naming what could not be read, never "0 frames" and exit 0:
for `edgenet run`, `edgenet eval` and `edgenet.frames()`. A folder with some unreadable images goes
on and names them on stderr."""

import warnings

import cv2
import numpy as np
import pytest

import edgenet
from edgenet.errors import DatasetError, SourceError
from tests.test_cli import LABELS, TINY, assert_one_line_error, edgenet as cli


@pytest.fixture
def photos(tmp_path):
    """good/: two real pictures and two unreadable ones; bad/: only unreadable ones."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, :32] = (0, 0, 255)
    for name in ("a.jpg", "c.png"):
        cv2.imwrite(str(good / name), picture)
    for folder in (good, bad):
        (folder / "b_empty.jpg").write_bytes(b"")
        (folder / "d_text.jpg").write_text("not a picture\n")
    return tmp_path


@pytest.mark.parametrize("name", ["bad/b_empty.jpg", "bad/d_text.jpg"])
def test_run_on_one_unreadable_image_is_exit_2_naming_it(photos, name):
    r = cli("run", "--model", TINY, "--source", str(photos / name), "--headless")
    assert_one_line_error(r, f"cannot read image ({photos / name})")


def test_run_on_a_folder_of_unreadable_images_is_exit_2_naming_them(photos, tmp_path):
    summary = tmp_path / "summary.json"
    r = cli("run", "--model", TINY, "--source", str(photos / "bad"), "--headless", "--summary-json", str(summary))
    assert_one_line_error(r, "cannot read any of the 2 images")
    assert "b_empty.jpg" in r.stderr and "d_text.jpg" in r.stderr and not summary.exists()


def test_run_on_a_folder_with_some_unreadable_images_goes_on_and_names_them(photos):
    r = cli("run", "--model", TINY, "--labels", LABELS, "--source", str(photos / "good"), "--json")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2  # the two readable pictures
    warning = [line for line in r.stderr.splitlines() if "warning: skipped 2 unreadable image(s)" in line]
    assert len(warning) == 1 and "b_empty.jpg" in warning[0] and "d_text.jpg" in warning[0]


def test_frames_api_raises_for_a_source_that_yields_nothing(photos):
    with pytest.raises(SourceError, match="cannot read image"):
        list(edgenet.frames(str(photos / "bad" / "d_text.jpg")))
    with pytest.raises(SourceError, match="cannot read any of the 2 images"):
        list(edgenet.frames(str(photos / "bad")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = list(edgenet.frames(str(photos / "good")))
    assert [f.shape for f in got] == [(48, 64, 3)] * 2
    assert len(caught) == 1 and "skipped 2 unreadable image(s)" in str(caught[0].message)


def test_frames_api_raises_for_an_empty_video(tmp_path):
    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()  # a container with no frames
    with pytest.raises(SourceError):
        list(edgenet.frames(str(path)))


def _flat_set(folder, names, rows):
    (folder / "truth.csv").write_bytes(rows)
    return str(folder / "truth.csv")


def test_eval_names_unreadable_images(photos, tmp_path):
    from edgenet.evaluate import evaluate

    truth = _flat_set(photos / "bad", None, b"b_empty.jpg,0\nd_text.jpg,1\n")
    with pytest.raises(DatasetError, match="none of the 2 images .* could be read: .*b_empty.jpg, .*d_text.jpg"):
        evaluate(TINY, str(photos / "bad"), labels=LABELS, ground_truth=truth)
    truth = _flat_set(photos / "good", None, b"a.jpg,0\nb_empty.jpg,0\nc.png,0\nd_text.jpg,1\n")
    r = cli("eval", "--model", TINY, "--labels", LABELS, "--images", str(photos / "good"), "--ground-truth", truth,
            "--json")
    assert r.returncode == 0, r.stderr
    assert '"count": 2' in r.stdout
    warning = [line for line in r.stderr.splitlines() if line.startswith("edgenet: warning: skipped 2 unreadable")]
    assert len(warning) == 1 and "d_text.jpg" in warning[0]


def test_eval_reads_a_ground_truth_csv_saved_by_a_spreadsheet(photos):
    from edgenet.evaluate import evaluate

    # UTF-8 with a byte-order mark and CRLF line ends, as a spreadsheet saves "CSV UTF-8".
    plain = _flat_set(photos / "good", None, b"file,class_index\r\na.jpg,0\r\nc.png,2\r\n")
    expected = evaluate(TINY, str(photos / "good"), labels=LABELS, ground_truth=plain)
    bom = _flat_set(photos / "good", None, b"\xef\xbb\xbffile,class_index\r\na.jpg,0\r\nc.png,2\r\n")
    report = evaluate(TINY, str(photos / "good"), labels=LABELS, ground_truth=bom)
    assert report.count == expected.count == 2 and report.top1 == expected.top1


def test_profile_refuses_a_source_that_yields_nothing_before_measuring(photos):
    r = cli("profile", "--models", TINY, "--threads", "1", "--min-runs", "3", "--min-time", "0",
            "--source", str(photos / "bad"))
    assert_one_line_error(r, "cannot read any of the 2 images")
    assert "end-to-end" not in r.stderr and r.stdout == ""  # nothing was measured, nothing reported
