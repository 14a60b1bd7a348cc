"""Shared fixtures. Test tiers: pure (no TensorFlow, no hardware), @pytest.mark.tensorflow,
@pytest.mark.ssh, @pytest.mark.browser, @pytest.mark.network (skips offline) and @pytest.mark.board
(opt-in with --board)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# ../shared/reference beside the project root: present on the developers' machines and CI, absent
# in a user's clone. Tests that use it skip cleanly without it.
REFERENCE = Path(os.environ.get("EDGENET_REFERENCE", ROOT.parent / "shared" / "reference"))


def pytest_addoption(parser):
    parser.addoption("--board", action="store_true", default=False, help="run tests that need a real board")
    parser.addoption("--board-camera", metavar="URI", default=None,
                     help="board tier: the board's camera (e.g. 0, v4l2://0, csi://0; pattern:// to try the tier "
                     "without one); its tests skip without it")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--board"):
        return
    skip = pytest.mark.skip(reason="needs a real board: run with --board")
    for item in items:
        if "board" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_ssh(request, monkeypatch, tmp_path):
    """Keep the developer's ~/.ssh (config, known_hosts, keys, agent) out of every ssh test (marked
    ``ssh``) and every deploy test: HOME is an empty folder, no agent, and edgenet's ssh config and
    known_hosts are files in tmp_path, which the test writes when it needs them. Returns tmp_path."""
    if request.node.get_closest_marker("ssh") is None and not request.node.path.name.startswith("test_deploy"):
        return None
    home = tmp_path / "dev-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("EDGENET_SSH_CONFIG", str(tmp_path / "ssh_config"))
    monkeypatch.setenv("EDGENET_KNOWN_HOSTS", str(tmp_path / "known_hosts"))
    return tmp_path


@pytest.fixture(scope="session")
def board_camera(request) -> str:
    """The source URI given with --board-camera (a bare number means --camera N); skips without it."""
    uri = request.config.getoption("--board-camera")
    if uri is None:
        pytest.skip("no camera given: run with --board-camera URI (e.g. --board-camera 0)")
    if uri.isdigit():
        from edgenet.sources import camera_uri

        uri = camera_uri(int(uri))
    return uri


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("edgenet-cache")


@pytest.fixture(autouse=True)
def _private_cache(_session_cache, monkeypatch):
    """Tests never touch the developer's cache or model index: one throwaway cache per session (a test
    that needs an empty one sets EDGENET_CACHE itself), the built-in index, no mirror."""
    monkeypatch.setenv("EDGENET_CACHE", str(_session_cache))
    for name in ("EDGENET_MODEL_INDEX", "EDGENET_MODEL_MIRROR", "EDGENET_DOWNLOAD_TIMEOUT", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"shared reference data not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A tiny int8 MobileNet V1 (alpha 0.25, 64 px, 10 classes) committed under tests/fixtures."""
    return FIXTURES / "mobilenet_v1_025_64_int8.tflite"


@pytest.fixture(scope="session")
def tiny_labels() -> Path:
    return FIXTURES / "tiny_labels.txt"


def modules_left_imported(code: str, roots: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter at the repo root; the modules under ``roots`` it imported.

    The device side's promise (never TensorFlow, never the workstation packages) is checked this way:
    the test process itself has imported everything already.
    """
    import json
    import subprocess
    import sys

    probe = f"\nimport sys as _s, json as _j\nprint(_j.dumps(sorted(m for m in _s.modules if m.split('.')[0] in {roots!r})))\n"
    done = subprocess.run([sys.executable, "-c", code + probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
