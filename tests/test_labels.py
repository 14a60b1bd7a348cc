import pytest

from edgenet.errors import LabelsError
from edgenet.labels import align_labels, load_labels, read_labels_file


@pytest.mark.parametrize(
    "text, classes, expected",
    [
        ("cat\ndog\n", 2, ["cat", "dog"]),
        ("background\ncat\ndog\n", 3, ["background", "cat", "dog"]),
        ("cat\ndog\n", 3, ["background", "cat", "dog"]),  # 1001-style model, 1000-style file
        ("background\ncat\ndog\n", 2, ["cat", "dog"]),  # 1000-style model, 1001-style file
        ("0 cat\n1 dog\n", 2, ["cat", "dog"]),
        ("0: cat\n1: dog\n", 2, ["cat", "dog"]),
        ("1 cat\n2 dog\n", 3, ["background", "cat", "dog"]),
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
