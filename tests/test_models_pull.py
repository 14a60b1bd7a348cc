"""`edgenet models` against a real HTTP server on loopback serving archives in the official layout.

Archives are made here from the project's own tiny fixture models (and the official 0.5/160 from
../shared/reference when present), with an EDGENET_MODEL_INDEX naming their sha256: pull, list,
verify, cache hits with the server stopped, and every refusal (checksum, truncation, HTTP errors,
stalls, unsafe members, offline) leaving nothing in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from edgenet.errors import DownloadError, UsageError
from tests.conftest import FIXTURES, ROOT
from tests.modelserver import ModelServer, official_archive, sha256, write_index

TINY_INT8 = FIXTURES / "mobilenet_v1_025_64_int8.tflite"
TINY_FLOAT = FIXTURES / "mobilenet_v1_025_64_float.tflite"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean cache and no mirror, for this process and the subprocesses it starts."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGENET_CACHE", str(cache))
    monkeypatch.delenv("EDGENET_MODEL_MIRROR", raising=False)
    monkeypatch.delenv("EDGENET_MODEL_INDEX", raising=False)
    monkeypatch.setenv("EDGENET_DOWNLOAD_TIMEOUT", "5")
    return cache


@pytest.fixture
def site(tmp_path, env, monkeypatch):
    """The served folder, the server (started), and an index of two tiny models pointing at it."""
    root = tmp_path / "www"
    root.mkdir()
    official_archive(root, "tiny_quant", TINY_INT8)
    official_archive(root, "tiny_float", TINY_FLOAT)
    (root / "tiny_labels.txt").write_bytes((FIXTURES / "tiny_labels.txt").read_bytes())
    server = ModelServer(root).start()
    index = write_index(tmp_path / "index.json", [
        {"name": "tiny", "url": server.url("tiny_quant.tgz"), "sha256": sha256(root / "tiny_quant.tgz"),
         "member": "tiny_quant.tflite", "labels": server.url("tiny_labels.txt"),
         "labels_sha256": sha256(root / "tiny_labels.txt"), "top1": 97.2, "description": "drawn shapes"},
        {"name": "tiny_float", "url": server.url("tiny_float.tgz"), "sha256": sha256(root / "tiny_float.tgz"),
         "member": "tiny_float.tflite"},
    ], default="tiny")
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(index))
    yield root, server, index
    server.stop()


def edgenet(*args):
    """The `edgenet` command in this process (fast); the same exit codes and streams as the real one."""
    import contextlib
    import io

    from edgenet.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgenet: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def cache_files(cache: Path) -> list[str]:
    """Everything in the cache's models folder (hidden files too)."""
    folder = cache / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# -- the happy path ---------------------------------------------------------------------------------

def test_pull_list_verify_path_and_cache_hit_with_the_server_stopped(site, env):
    root, server, _ = site
    done = edgenet("models", "pull", "tiny")
    assert done.returncode == 0, done.stderr
    model = env / "models" / "tiny.tflite"
    assert model.read_bytes() == TINY_INT8.read_bytes()  # the member, byte for byte
    assert (env / "models" / "tiny.labels.txt").read_bytes() == (FIXTURES / "tiny_labels.txt").read_bytes()
    record = json.loads((env / "models" / "tiny.json").read_text())
    assert record["sha256"] == hashlib.sha256(TINY_INT8.read_bytes()).hexdigest()
    assert record["source_sha256"] == sha256(root / "tiny_quant.tgz") and record["member"] == "tiny_quant.tflite"
    assert cache_files(env) == ["tiny.json", "tiny.labels.txt", "tiny.tflite"]  # no temporary file left

    listing = json.loads(edgenet("models", "list", "--json").stdout)
    assert listing["default"] == "tiny" and listing["index"].endswith("index.json")
    rows = {m["name"]: m for m in listing["models"]}
    assert rows["tiny"]["cached"] and rows["tiny"]["size"] == TINY_INT8.stat().st_size and rows["tiny"]["top1"] == 97.2
    assert not rows["tiny_float"]["cached"] and rows["tiny_float"]["path"] is None
    table = edgenet("models", "list").stdout
    assert "tiny_float" in table and "97.2" in table
    builtin = edgenet("models", "list", "--width", "80").stdout  # with EDGENET_MODEL_INDEX: still ours
    assert all(len(line) <= 80 for line in builtin.splitlines() if not line.startswith(("cache: ", "index: ")))

    verified = edgenet("models", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("ok") and "tiny" in verified.stdout

    requests = len(server.requests)
    again = edgenet("models", "pull", "tiny")
    assert again.returncode == 0 and "already cached" in again.stderr and len(server.requests) == requests

    server.stop()  # from here on the cache alone
    path = edgenet("models", "path", "tiny")
    assert path.returncode == 0 and path.stdout.strip() == str(model)
    assert edgenet("models", "path", "tiny", "--labels").stdout.strip() == str(env / "models" / "tiny.labels.txt")
    offline = one_error_line(edgenet("models", "path", "tiny_float"), 1)
    assert f"cannot reach 127.0.0.1:{server.port}" in offline


def test_verify_notices_a_changed_file_and_rm_removes(site, env):
    assert edgenet("models", "pull", "tiny", "tiny_float").returncode == 0
    model = env / "models" / "tiny_float.tflite"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    bad = edgenet("models", "verify")
    assert bad.returncode == 1
    lines = sorted(bad.stdout.splitlines())
    assert lines[0].startswith("BAD  tiny_float: tiny_float.tflite changed since it was pulled")
    assert lines[1].startswith("ok   tiny: sha256 ")

    removed = edgenet("models", "rm", "tiny_float")
    assert removed.returncode == 0 and cache_files(env) == ["tiny.json", "tiny.labels.txt", "tiny.tflite"]
    assert "not in the cache: nope" in one_error_line(edgenet("models", "rm", "nope"), 2)
    assert edgenet("models", "rm", "--all").returncode == 0 and cache_files(env) == []


def test_a_new_sha256_in_the_index_makes_the_cached_copy_stale(site, env, tmp_path):
    from edgenet.models import load_index, pull_model, resolve_model

    root, server, index_path = site
    first = pull_model(load_index().require("tiny"))
    # the publisher replaces the archive (now the float model) and updates the index
    official_archive(root, "tiny_quant", TINY_FLOAT)
    data = json.loads(index_path.read_text())
    data["models"][0]["sha256"] = sha256(root / "tiny_quant.tgz")
    index_path.write_text(json.dumps(data))
    resolved = resolve_model("tiny")
    assert resolved.path == first.path and resolved.path.read_bytes() == TINY_FLOAT.read_bytes()
    assert server.count("tiny_quant.tgz") == 2


def test_zip_archives_and_plain_tflite_urls(tmp_path, env, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "m.zip", "w") as zf:
        zf.writestr("README", "a zipped model")
        zf.write(TINY_INT8, "models/tiny.tflite")
    (root / "plain.tflite").write_bytes(TINY_FLOAT.read_bytes())
    with ModelServer(root) as server:
        index = write_index(tmp_path / "i.json", [
            {"name": "z", "url": server.url("m.zip"), "sha256": sha256(root / "m.zip"), "member": "tiny.tflite",
             "labels": "imagenet"},
            {"name": "p", "url": server.url("plain.tflite"), "sha256": sha256(root / "plain.tflite")}])
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(index))
        from edgenet.models import model_path, resolve_model

        assert model_path("z").read_bytes() == TINY_INT8.read_bytes()  # found one folder down, unambiguous
        assert resolve_model("z").labels.name == "imagenet_labels.txt"
        assert model_path("p").read_bytes() == TINY_FLOAT.read_bytes()


# -- refusals: one line, nothing kept -----------------------------------------------------------------

def test_a_tampered_archive_is_refused_and_leaves_nothing(site, env):
    root, server, _ = site
    official_archive(root, "tiny_quant", TINY_FLOAT)  # same name, other bytes than the index pins
    line = one_error_line(edgenet("models", "pull", "tiny"), 1)
    assert "checksum mismatch" in line and "refused and deleted" in line
    assert cache_files(env) == []


@pytest.mark.parametrize("fault, message", [
    ("truncate", "cut off after"),
    ("404", "HTTP 404"),
    ("500", "HTTP 500"),
])
def test_broken_downloads_are_refused_and_leave_nothing(site, env, fault, message):
    root, server, _ = site
    server.faults["/tiny_quant.tgz"] = fault
    line = one_error_line(edgenet("models", "pull", "tiny"), 1)
    assert message in line and server.url("tiny_quant.tgz") in line
    assert cache_files(env) == []


@pytest.mark.parametrize("fault, message", [("stall", "stalled after"), ("stall-headers", "no answer within 0.5 s")])
def test_a_stalling_server_times_out(site, env, fault, message):
    from edgenet.models import load_index, pull_model

    root, server, _ = site
    server.faults["/tiny_quant.tgz"] = fault
    with pytest.raises(DownloadError, match=message):
        pull_model(load_index().require("tiny"), timeout=0.5)
    assert cache_files(env) == []


def test_the_labels_download_failing_keeps_no_model_either(site, env):
    root, server, _ = site
    server.faults["/tiny_labels.txt"] = "404"
    line = one_error_line(edgenet("models", "pull", "tiny"), 1)
    assert "tiny_labels.txt: HTTP 404" in line and cache_files(env) == []


def _evil(kind: str) -> tarfile.TarInfo:
    if kind == "dotdot":
        info = tarfile.TarInfo("./../../evil.sh")
        info.size = 10
    elif kind == "absolute":
        info = tarfile.TarInfo("/tmp/evil.sh")
        info.size = 10
    elif kind == "symlink":
        info = tarfile.TarInfo("./link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        info = tarfile.TarInfo("./hard")
        info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
    return info


@pytest.mark.parametrize("kind, message", [
    ("dotdot", "is a '..' path"), ("absolute", "is an absolute path"),
    ("symlink", "is a link (to '/etc/passwd')"), ("hardlink", "is a link (to '/etc/passwd')"),
])
def test_unsafe_archive_members_refuse_the_archive(tmp_path, env, monkeypatch, kind, message):
    root = tmp_path / "www"
    root.mkdir()
    official_archive(root, "evil", TINY_INT8, extra=[_evil(kind)])
    with ModelServer(root) as server:
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "i.json", [
            {"name": "evil", "url": server.url("evil.tgz"), "sha256": sha256(root / "evil.tgz"),
             "member": "evil.tflite"}])))
        line = one_error_line(edgenet("models", "pull", "evil"), 1)
    assert "refused" in line and message in line
    assert cache_files(env) == [] and not (tmp_path / "evil.sh").exists()


def test_a_zip_with_a_dotdot_member_is_refused(tmp_path, env, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "m.zip", "w") as zf:
        zf.write(TINY_INT8, "m.tflite")
        zf.writestr("../evil.sh", "echo")
    with ModelServer(root) as server:
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "i.json", [
            {"name": "m", "url": server.url("m.zip"), "sha256": sha256(root / "m.zip"), "member": "m.tflite"}])))
        from edgenet.models import model_path

        with pytest.raises(DownloadError, match=r"member '../evil.sh' is a '..' path"):
            model_path("m")
    assert cache_files(env) == []


def test_a_member_that_is_no_model_or_missing(site, env, tmp_path, monkeypatch):
    root, server, _ = site
    from edgenet.models import model_path

    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "j.json", [
        {"name": "a", "url": server.url("tiny_quant.tgz"), "sha256": sha256(root / "tiny_quant.tgz"),
         "member": "tiny_quant_info.txt"},
        {"name": "b", "url": server.url("tiny_quant.tgz"), "sha256": sha256(root / "tiny_quant.tgz"),
         "member": "other.tflite"}])))
    with pytest.raises(DownloadError, match="is not a TFLite model"):
        model_path("a")
    with pytest.raises(DownloadError, match=r"no member 'other.tflite' in the archive \(.tflite files in it: tiny_quant.tflite\)"):
        model_path("b")
    assert cache_files(env) == []


def test_offline_says_mirror_pull_elsewhere_and_model_path(tmp_path, env, monkeypatch):
    from tests.sshd import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "i.json", [
        {"name": "gone", "url": f"http://127.0.0.1:{port}/gone.tflite", "sha256": "0" * 64}])))
    line = one_error_line(edgenet("models", "pull", "gone"), 1)
    assert f"cannot reach 127.0.0.1:{port}" in line
    assert "EDGENET_MODEL_MIRROR=URL" in line and "`edgenet models pull gone`" in line and "path of a .tflite file" in line
    assert str(env / "models") in line
    assert cache_files(env) == []


def test_concurrent_pulls_download_once_and_agree(site, env):
    root, server, _ = site
    server.faults["/tiny_quant.tgz"] = ("slow", 1.0)
    cmd = [sys.executable, "-m", "edgenet", "models", "pull", "tiny"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=os.environ.copy()) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert server.count("tiny_quant.tgz") == 1  # the second waited on the lock, then found it cached
    assert (env / "models" / "tiny.tflite").read_bytes() == TINY_INT8.read_bytes()
    assert cache_files(env) == ["tiny.json", "tiny.labels.txt", "tiny.tflite"]
    assert edgenet("models", "verify").returncode == 0


def test_stale_partial_downloads_are_cleared_by_the_next_pull(site, env):
    (env / "models").mkdir(parents=True)
    (env / "models" / ".tiny.abc123.part").write_bytes(b"half a download from a killed process")
    assert edgenet("models", "pull", "tiny").returncode == 0
    assert cache_files(env) == ["tiny.json", "tiny.labels.txt", "tiny.tflite"]


# -- the mirror ---------------------------------------------------------------------------------------

def test_the_mirror_serves_the_same_file_names(site, env, monkeypatch):
    """EDGENET_MODEL_MIRROR keeps each file name and the pinned sha256, and changes only the base URL."""
    root, server, _ = site
    mirror = root / "lan-cache"
    mirror.mkdir()
    for name in ("tiny_quant.tgz", "tiny_labels.txt"):
        (mirror / name).write_bytes((root / name).read_bytes())
    server.faults["/tiny_quant.tgz"] = "500"  # the origin is broken; the mirror is not
    monkeypatch.setenv("EDGENET_MODEL_MIRROR", server.url("lan-cache/"))
    done = edgenet("models", "pull", "tiny")
    assert done.returncode == 0, done.stderr
    assert "/lan-cache/tiny_quant.tgz" in server.requests and "/lan-cache/tiny_labels.txt" in server.requests
    assert "/tiny_quant.tgz" not in server.requests


def test_the_mirror_with_the_built_in_index_still_checks_the_pinned_sha256(tmp_path, env, monkeypatch):
    """A mirror serving a file other than Google's (here: a tiny model under the official name) is refused."""
    root = tmp_path / "www"
    root.mkdir()
    official_archive(root, "mobilenet_v1_0.5_160_quant", TINY_INT8)
    with ModelServer(root) as server:
        monkeypatch.setenv("EDGENET_MODEL_MIRROR", server.url(""))
        line = one_error_line(edgenet("models", "pull", "mobilenet_v1_050_160"), 1)
        assert server.requests == ["/mobilenet_v1_0.5_160_quant.tgz"]
    assert "checksum mismatch" in line and "036ff1a53180f844" in line and cache_files(env) == []


# -- bad input: one line, exit 2 ---------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    ("{", "not a JSON model index"),
    ('{"models": [{"name": "a", "url": "http://x/a.tflite"}]}', "missing sha256"),
    ('{"models": [{"name": "a", "url": "http://x/a.tgz", "sha256": "' + "a" * 64 + '"}]}', 'with "member"'),
    ('{"models": [{"name": "a", "url": "http://x/a.tflite", "sha256": "' + "a" * 64 + '", "size": 1}]}',
     "unknown field(s) size"),
    ('{"models": [{"name": "../a", "url": "http://x/a.tflite", "sha256": "' + "a" * 64 + '"}]}', "not filename-safe"),
    ('{"models": [{"name": "a", "url": "http://x/a.tflite", "sha256": "xyz"}]}', "64 lowercase hex"),
    ('{"models": [], "default": "a"}', "lists no models"),
])
def test_bad_index_files(tmp_path, env, monkeypatch, content, message):
    (tmp_path / "i.json").write_text(content)
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(tmp_path / "i.json"))
    assert message in one_error_line(edgenet("models", "list"), 2)


def test_unknown_names_and_empty_pulls(site):
    assert "'tinyy' is not in the model index" in one_error_line(edgenet("models", "pull", "tinyy"), 2)
    assert "or --all" in one_error_line(edgenet("models", "pull"), 2)
    with pytest.raises(UsageError, match="is a path"):
        from edgenet.models import model_path

        model_path("./tiny.tflite")


def test_relative_paths_in_an_index_are_relative_to_it(tmp_path, env, monkeypatch):
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    official_archive(shelf, "tiny_quant", TINY_INT8)
    (shelf / "labels.txt").write_text((FIXTURES / "tiny_labels.txt").read_text())
    index = write_index(shelf / "index.json", [
        {"name": "local", "url": "tiny_quant.tgz", "sha256": sha256(shelf / "tiny_quant.tgz"),
         "member": "tiny_quant.tflite", "labels": "labels.txt"}])
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(index))
    monkeypatch.setenv("EDGENET_MODEL_MIRROR", "http://127.0.0.1:9/")  # file:// entries are never mirrored
    from edgenet.models import resolve_model

    resolved = resolve_model("local")
    assert resolved.path.read_bytes() == TINY_INT8.read_bytes()
    assert resolved.labels.read_text() == (FIXTURES / "tiny_labels.txt").read_text()


def test_progress_reports_bytes_against_the_content_length(site, env):
    from edgenet.models import load_index
    from edgenet.models.store import pull

    root, server, _ = site
    seen = []
    pull(load_index().require("tiny_float"), progress=lambda done, total: seen.append((done, total)))
    size = (root / "tiny_float.tgz").stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_progress_bar_draws_on_a_terminal_only(monkeypatch):
    import io

    from rich.console import Console

    from edgenet.models import progress as progress_mod

    with progress_mod.download_bar("x") as bar:
        assert bar is None  # pytest's stderr is no terminal: no bar, no escape codes in logs
    out = io.StringIO()
    real = Console
    monkeypatch.setattr("rich.console.Console", lambda **kw: real(file=out, force_terminal=True, width=100))
    with progress_mod.download_bar("mobilenet_v1_050_160") as bar:
        bar(0, 2_000_000)
        bar(2_000_000, 2_000_000)
    assert "mobilenet_v1_050_160" in out.getvalue() and "2.0" in out.getvalue()
