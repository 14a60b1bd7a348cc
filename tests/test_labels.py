import pytest

from edgenet.errors import LabelsError
from edgenet.labels import align_labels, load_labels, read_labels_file


@pytest.mark.parametrize(
    "text, classes, expected",
    [
        ("cat\ndog\n", 2, ["cat", "dog"]),
        ("background\ncat\ndog\n", 3, ["background", "cat", "dog"]),
        ("0 cat\n1 dog\n", 2, ["cat", "dog"]),
        ("0: cat\n1: dog\n", 2, ["cat", "dog"]),
        ("1 cat\n2 dog\n", 2, ["cat", "dog"]),
        ("3 little pigs\n7 dwarfs\n", 2, ["3 little pigs", "7 dwarfs"]),  # digits that are not an index
        ("cat\ndog\n\n\n", 2, ["cat", "dog"]),
    ],
)
def test_labels_line_up(tmp_path, text, classes, expected):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    assert load_labels(str(path), classes) == expected


def test_mismatch_is_an_error(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("a\nb\nc\n")
    with pytest.raises(LabelsError, match="3 labels but the model has 10 outputs"):
        load_labels(str(path), 10)


def test_missing_empty_and_binary(tmp_path):
    with pytest.raises(LabelsError, match="not found"):
        read_labels_file(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(LabelsError, match="empty"):
        read_labels_file(str(tmp_path / "empty.txt"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(LabelsError, match="UTF-8"):
        read_labels_file(str(tmp_path / "bin.txt"))


def test_no_labels_file_gives_class_numbers():
    assert load_labels(None, 3) == ["class 0", "class 1", "class 2"]


def test_reference_imagenet_labels(reference):
    labels = load_labels(str(reference / "imagenet_labels.txt"), 1001)
    assert labels[0] == "background" and len(labels) == 1001
    as_1000 = align_labels(labels, 1000)
    assert as_1000[0] == labels[1]


def test_a_1001_output_model_without_labels_has_background_first():
    labels = load_labels(None, 1001)
    assert labels[0] == "background" and labels[1] == "class 0" and labels[1000] == "class 999" and len(labels) == 1001


IMAGENET = [f"class {i}" for i in range(1000)]


def write(tmp_path, lines):
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_imagenet_background_conventions_line_up(tmp_path):
    # 1001 outputs (index 0 = background): 1000 labels get the background in front, 1001 are taken as they are.
    assert load_labels(write(tmp_path, IMAGENET), 1001) == ["background"] + IMAGENET
    assert load_labels(write(tmp_path, ["background"] + IMAGENET), 1001) == ["background"] + IMAGENET
    # 1000 outputs (no background): a 1001-line file's background line is dropped.
    assert load_labels(write(tmp_path, ["background"] + IMAGENET), 1000) == IMAGENET


@pytest.mark.parametrize(
    "lines, classes, message",
    [
        (["background"] + IMAGENET + ["extra"], 1001, "1002 labels but the model has 1001 outputs"),
        (IMAGENET + ["extra", "more"], 1001, "1002 labels but the model has 1001 outputs"),
        (IMAGENET + ["background"], 1001, "1001 labels for the model's 1001 outputs, with a background line at line 1001"),
        (IMAGENET[:500] + ["background"] + IMAGENET[500:], 1002, "background line at line 501"),
        (["background"] + IMAGENET[:999], 1001, "1000 labels but the model has 1001 outputs"),  # 999 classes + background
        (["cat", "dog"], 3, "2 labels but the model has 3 outputs"),  # no background class known at 0
        (["background", "cat", "dog"], 2, "3 labels but the model has 2 outputs"),
    ],
)
def test_labels_one_off_are_refused_with_both_counts(tmp_path, lines, classes, message):
    with pytest.raises(LabelsError, match=message) as caught:
        load_labels(write(tmp_path, lines), classes)
    assert "\n" not in str(caught.value)


def test_a_shifted_labels_file_stops_the_run_with_exit_2(tmp_path):
    from tests.test_cli import TINY, assert_one_line_error, edgenet

    # The tiny model has 10 outputs: 11 lines with a background first used to be taken, every label shifted.
    path = write(tmp_path, ["red", "green", "blue", "a", "b", "c", "d", "e", "f", "g", "background"])
    r = edgenet("run", "--model", TINY, "--labels", path, "--source", "pattern://?frames=2", "--headless")
    assert_one_line_error(r, "background line at line 11")
