"""The package data pyproject declares exists, and an installed edgenet can read it."""

import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_every_declared_package_data_pattern_matches_files():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = config["tool"]["setuptools"]["package-data"]
    assert package_data, "no package data declared"
    for package, patterns in package_data.items():
        for pattern in patterns:
            matches = [p for p in (ROOT / package.replace(".", "/")).glob(pattern) if p.is_file()]
            assert matches, f"pyproject declares {package}/{pattern} but no file matches it"


def test_py_typed_marker_is_empty_and_synsets_are_readable_as_package_data():
    from importlib.resources import files

    assert files("edgenet").joinpath("py.typed").read_text() == ""
    synsets = files("edgenet").joinpath("data", "imagenet_synsets.txt").read_text().split()
    assert len(synsets) == 1000 and synsets[0] == "n01440764" and synsets[-1] == "n15075141"
