"""An emulated arm64 board (marker ``arm64``, slow: ~5 min): Debian 12's arm64 Python 3.11, the Python of
Raspberry Pi OS Bookworm 64-bit, run by qemu-aarch64 10.0 (scripts/arm64-board.sh, cached in
$EDGENET_TEST_CACHE, default ~/.cache/edgenet-tests), behind a real sshd on loopback.

What it does, as on a board: the board's own requirement set is computed there (python3 -m
edgenet.cli.requirements under emulation: aarch64 userland, glibc 2.36), ``edgenet deploy --offline``
reaches it over ssh (preflight reads the board's facts with its own Python, the workstation downloads the
aarch64 wheels of exactly that set, the board's pip installs them into the dependency env, the smoke test
runs ``edgenet run`` there), then the deployed ``edgenet eval``, ``edgenet run --json`` and ``edgenet
doctor`` run on a model (the official 0.25/128 from ../shared/reference when present, else the project's
tiny int8 fixture) and their outputs are compared with this x86-64 machine's. cv2.resize differs by up to
1 LSB between the x86 and aarch64 OpenCV wheels, which moves an int8 network's scores by several steps
(measured: 0.176 vs 0.203 on one ImageNet picture), so eval's top-1 on the raw pictures may differ by one
picture; ``run`` is compared on the same pictures resized here to the model's size (``--crop 1``: no resize
left on the board), where the two interpreters see identical tensors and must agree within one output step.

What it leaves out: speed (emulation is 5-20x slower: nothing is timed), cameras (qemu-user has no V4L2 or
libcamera), the board's thermals (the host's sysfs is seen), a 32-bit userland (qemu-arm with an armhf
sysroot would be the same approach; not built), and binfmt_misc (not mounted here, and registering a handler
would change the machine): only Python is emulated. The ssh user's PATH puts the board's python3 first, so
every Python the deploy starts is arm64; sh, uname and the other tools are the host's (the preflight's
shell line says x86_64, the board's Python says aarch64, and the Python decides).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import sshd as sshd_mod
from tests.conftest import FIXTURES, REFERENCE, ROOT

pytestmark = [pytest.mark.arm64, pytest.mark.ssh]

CACHE = Path(os.environ.get("EDGENET_TEST_CACHE", Path.home() / ".cache" / "edgenet-tests"))
REAL_PIP_CACHE = os.path.expanduser("~/.cache/pip")
IMAGES = 8  # a handful: every image costs seconds under emulation


@pytest.fixture(scope="module")
def board_dir() -> Path:
    for tool in ("apt-get", "dpkg-deb", "dpkg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing: the emulated board is built from Debian packages")
    if not Path("/usr/share/keyrings/debian-archive-keyring.gpg").exists():
        pytest.skip("debian-archive-keyring missing")
    where = CACHE / "arm64-board"
    r = subprocess.run([str(ROOT / "scripts" / "arm64-board.sh"), str(where)], capture_output=True, text=True,
                       timeout=1200)
    if r.returncode != 0:
        pytest.skip("cannot build the emulated arm64 board (Debian archive unreachable?): "
                    + ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1])
    return where


def emulated(python: Path, *args, **kw):
    return subprocess.run([str(python), *map(str, args)], capture_output=True, text=True, timeout=900, **kw)


def test_the_boards_own_requirement_set(board_dir):
    r = emulated(board_dir / "bin" / "python3", "-m", "edgenet.cli.requirements", "--json", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    f = data["facts"]
    assert (f["kernel_machine"], f["pointer_bits"], f["libc"], f["libc_version"]) == ("aarch64", 64, "glibc", "2.36")
    assert f["python"].startswith("3.11.")
    assert [x["line"] for x in data["requirements"]] == ["ai-edge-litert>=1.2", "numpy>=1.23.2",
                                                         "opencv-python-headless>=4.8", "rich>=13", "packaging>=22"]


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    """(model, labels, image folder with ground truth): the official 0.25/128 and the first imagenet-100
    images when ../shared/reference is here, else the tiny fixture and drawn pictures."""
    folder = tmp_path_factory.mktemp("arm64-images")
    os.chmod(folder, 0o755)
    if (REFERENCE / "mobilenet_v1_0.25_128_quant.tflite").exists():
        src = REFERENCE / "imagenet-100"
        lines = (src / "ground_truth.csv").read_text().splitlines()
        keep = lines[1:IMAGES + 1]
        for line in keep:
            shutil.copy(src / line.split(",")[0], folder)
        (folder / "ground_truth.csv").write_text("\n".join([lines[0], *keep]) + "\n")
        return REFERENCE / "mobilenet_v1_0.25_128_quant.tflite", REFERENCE / "imagenet_labels.txt", folder
    import cv2
    import numpy as np

    from tests.fixtures.drawings import LABELS, draw

    rng = np.random.default_rng(3)
    for label in LABELS[:4]:
        (folder / label).mkdir()
        for i in range(2):
            cv2.imwrite(str(folder / label / f"{i}.png"), draw(label, rng))
    return FIXTURES / "mobilenet_v1_025_64_int8.tflite", FIXTURES / "tiny_labels.txt", folder


@pytest.fixture(scope="module")
def deployed(board_dir, model_and_images, tmp_path_factory):
    """`edgenet deploy --offline` to the emulated board over a real sshd; yields the release folder."""
    reason = sshd_mod.sshd_available()
    if reason:
        pytest.skip(reason)
    from deploy.commands import deploy_hosts
    from deploy.fleet import SshSettings
    from deploy.release import DeployConfig

    root = sshd_mod.make_root()
    board = root / "arm64-board"
    # A hard-linked copy the test user can reach (the cache may sit in root's 0700 home).
    if subprocess.run(["cp", "-al", str(board_dir), str(board)], capture_output=True).returncode != 0:
        shutil.copytree(board_dir, board, symlinks=True)
    user = sshd_mod.create_user(root)
    server = None
    try:
        server = sshd_mod.Sshd(root, user, extra=(f"SetEnv PATH={board}/bin:/usr/local/bin:/usr/bin:/bin",))
        work = tmp_path_factory.mktemp("arm64-ssh")
        (work / "ssh_config").write_text(f"Host arm64\n  HostName 127.0.0.1\n  Port {server.port}\n  User {user.name}\n"
                                         f"  IdentityFile {user.key}\n")
        (work / "known_hosts").write_text(server.known_hosts_line())
        model, labels, _ = model_and_images
        log: list[str] = []
        env_before = dict(os.environ)
        os.environ.update(PIP_CACHE_DIR=REAL_PIP_CACHE, EDGENET_CACHE=str(work / "cache"))
        os.environ.pop("SSH_AUTH_SOCK", None)
        try:
            report = deploy_hosts(["arm64"], config=DeployConfig(model=model, labels=labels, offline=True),
                                  settings=SshSettings(ssh_config=str(work / "ssh_config"),
                                                       known_hosts=str(work / "known_hosts"), timeout=60),
                                  on_status=log.append)
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        assert report.ok, (report.summary_lines(), log[-5:])
        yield report.outcomes[0].value, log
    finally:
        if server is not None:
            server.stop()
        sshd_mod.delete_user(user)
        shutil.rmtree(root, ignore_errors=True)


def test_deploy_to_the_emulated_board_installs_its_set(deployed):
    result, log = deployed
    assert any("(64-bit userland: aarch64)" in m for m in log), log  # the shell's uname is the host's
    assert any(m.endswith("requirements: ai-edge-litert>=1.2, numpy>=1.23.2, opencv-python-headless>=4.8, "
                          "rich>=13, packaging>=22") for m in log), log
    assert result.smoke["frames"] == 2
    env = Path(result.release).parent.parent / "envs" / result.env.name
    site = next(env.glob("lib/python3.11/site-packages"))
    wheels = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"ai_edge_litert", "numpy", "opencv_python_headless", "rich", "packaging"} <= wheels
    assert next(site.glob("numpy/_core/_multiarray_umath*.so")).name.endswith("aarch64-linux-gnu.so")


def run_edgenet(python_or_script: list, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*python_or_script, *map(str, args)], capture_output=True, text=True, timeout=900,
                          cwd="/", env={**os.environ, "PYTHONPATH": ""})


def test_eval_run_and_doctor_on_the_board_match_x86(deployed, model_and_images):
    result, _ = deployed
    model, labels, images = model_and_images
    board = [str(Path(result.release) / "venv" / "bin" / "edgenet")]
    here = [sys.executable, "-m", "edgenet"]
    common = ("--model", model, "--labels", labels)

    ev = {}
    for name, cmd in (("arm64", board), ("x86", here)):
        r = run_edgenet(cmd, "eval", *common, "--images", images, "--json", "--threads", "1")
        assert r.returncode == 0, r.stderr[-2000:]
        ev[name] = json.loads(r.stdout)
    assert ev["arm64"]["environment"]["machine"] == "aarch64" and ev["x86"]["environment"]["machine"] == "x86_64"
    assert ev["arm64"]["count"] == ev["x86"]["count"] == IMAGES
    assert abs(ev["arm64"]["top1"] - ev["x86"]["top1"]) <= 1 / ev["x86"]["count"] + 1e-9

    # The same pictures already at the model's size, and --crop 1: no resize left to differ by a LSB
    # between the two OpenCV builds, so the two interpreters see identical int8 tensors.
    import cv2

    from edgenet.runtime import load_interpreter

    size = load_interpreter(str(model), threads=1).input_spec.width
    sized = images.parent / "arm64-sized"
    sized.mkdir(exist_ok=True)
    os.chmod(sized, 0o755)
    from edgenet.sources import ImageFolderSource

    src = ImageFolderSource(f"{images}/**/*")
    for i, path in enumerate(src.paths):
        cv2.imwrite(str(sized / f"{i:02d}.png"), cv2.resize(cv2.imread(path), (size, size), interpolation=cv2.INTER_AREA))
    frames = {}
    for name, cmd in (("arm64", board), ("x86", here)):
        r = run_edgenet(cmd, "run", *common, "--source", sized, "--crop", "1", "--json", "--top-k", "2", "--threads", "1")
        assert r.returncode == 0, r.stderr[-2000:]
        frames[name] = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(frames["arm64"]) == len(frames["x86"]) == IMAGES
    step = 1 / 256  # one output step of the uint8/int8 models
    for a, x in zip(frames["arm64"], frames["x86"]):
        assert abs(a["top"][0]["score"] - x["top"][0]["score"]) <= step + 1e-4, (a, x)
        if a["top"][0]["label"] != x["top"][0]["label"]:  # a flip only between top-2 scores one step apart
            assert abs(x["top"][0]["score"] - x["top"][1]["score"]) <= step + 1e-4, (a, x)

    r = run_edgenet(board, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert "64-bit aarch64 userland" in checks["python"]["found"]
    assert checks["set"]["status"] == "ok"
    assert checks["tflite"]["found"].startswith("litert ")
    assert checks["xnnpack"]["status"] == "ok" and "XNNPACK applied" in checks["xnnpack"]["found"]
    lsb = int(checks["xnnpack"]["found"].split("(max ")[1].split(" LSB")[0])
    assert lsb <= 1  # the aarch64 kernels give the workstation's answer
