"""Work on a deployed board: run/eval/profile with the current release's venv, logs of the service,
and the whole remote profiling workflow (push models, profile, copy back, pick)."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from deploy.errors import DeployError, RemoteCommandError
from deploy.release import DEFAULT_BASE, current_release, remote_base, utc_stamp
from deploy.service import logs_command
from edgenet.profiler.select import EXIT_NO_PICK

PROFILE_FILES = ("profile.json", "profile.csv", "pareto.png")


def _has(args: list[str], *options: str) -> bool:
    return any(a == o or a.startswith(o + "=") for a in args for o in options)


def edgenet_command(release: str, verb: str, args: list[str]) -> list[str]:
    """argv of `edgenet VERB ARGS` in a release: its venv's python runs the package (not the
    console script, whose launcher pip may write as a shell script)."""
    return [f"{release}/venv/bin/python", "-m", "edgenet", verb, *args]


def serve_port(args: list[str]) -> int | None:
    """The board port of `run --serve [HOST:]PORT` in ``args``, or None without --serve."""
    from edgenet.serve import DEFAULT_PORT
    from edgenet.serve.server import parse_bind

    for i, arg in enumerate(args):
        if arg == "--serve":
            nxt = args[i + 1] if i + 1 < len(args) else ""
            value = nxt if nxt and not nxt.startswith("-") else str(DEFAULT_PORT)
        elif arg.startswith("--serve="):
            value = arg.split("=", 1)[1]
        else:
            continue
        port = parse_bind(value)[1]
        if port == 0:
            raise DeployError("remote run --serve needs a fixed port (not 0) so it can be forwarded over ssh")
        return port
    return None


def model_arg(args: list[str]) -> str | None:
    """The value of --model in ``args`` (``--model X`` or ``--model=X``), or None."""
    for i, arg in enumerate(args):
        if arg == "--model" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--model="):
            return arg.split("=", 1)[1]
    return None


def with_model(args: list[str], model: str, labels: str | None) -> list[str]:
    """``args`` with --model replaced by ``model`` (and --labels added when there is none)."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--model":
            skip = True
            continue
        if arg.startswith("--model="):
            continue
        out.append(arg)
    out = ["--model", model] + out
    if labels and not _has(out, "--labels"):
        out = out[:2] + ["--labels", labels] + out[2:]
    return out


def models_items(args: list[str]) -> list[str]:
    """The values of ``--models A B ...`` in ``args`` (up to the next option)."""
    for i, arg in enumerate(args):
        if arg == "--models":
            out = []
            for value in args[i + 1:]:
                if value.startswith("-"):
                    break
                out.append(value)
            return out
    return []


def with_pushed_models(remote, args: list[str], local: dict[str, Path], base_dir: str = DEFAULT_BASE) -> list[str]:
    """``args`` with the index names of ``--models`` replaced by board paths of their pushed files."""
    folder = push_models(remote, sorted(set(local.values())), base_dir)
    out, inside = [], False
    for arg in args:
        if arg == "--models":
            inside = True
        elif arg.startswith("-"):
            inside = False
        elif inside and arg in local:
            arg = f"{folder}/{local[arg].name}"
        out.append(arg)
    return out


def push_named_model(remote, model: Path, labels: Path | None, base_dir: str = DEFAULT_BASE) -> tuple[str, str | None]:
    """Upload a workstation-cached index model (and its labels) to <base>/models/index/; the board paths."""
    folder = f"{remote_base(remote, base_dir)}/models/index"
    remote.run(["mkdir", "-p", "--", folder], what="creating the models folder")
    remote.put(model, f"{folder}/{model.name}")
    if labels is not None:
        remote.put(labels, f"{folder}/{labels.name}")
    return f"{folder}/{model.name}", (f"{folder}/{labels.name}" if labels is not None else None)


def run_verb(remote, verb: str, args: list[str], base_dir: str = DEFAULT_BASE,
             log: Callable[[str], None] = print, local_port: int | None = None,
             pushed: tuple[Path, Path | None] | None = None) -> int:
    """`edgenet run|eval ARGS` on the board with output streamed back; --model defaults to the deployed one.

    ``pushed``: the workstation's cached file (and labels) of a ``--model NAME`` from the model index,
    uploaded first and run in its place (the board needs no internet).

    With `run --serve PORT`, the board's live view is forwarded over the same ssh connection to the
    same port on this workstation's loopback (or ``local_port``), for as long as the run lasts.
    """
    port = serve_port(args) if verb == "run" else None
    release, meta = current_release(remote, base_dir)
    args = list(args)
    if pushed is not None:
        args = with_model(args, *push_named_model(remote, pushed[0], pushed[1], base_dir))
    if not _has(args, "--model"):
        args = ["--model", f"{release}/model/{meta['model']}"] + args
        if meta.get("labels") and not _has(args, "--labels"):
            args = args[:2] + ["--labels", f"{release}/model/{meta['labels']}"] + args[2:]
    command = edgenet_command(release, verb, args)
    if port is None:
        return remote.run(command, check=False, stream=True).exited
    local = local_port or port
    with remote.forward(local, port):
        log(f"edgenet: live view of {remote.spec.alias} at http://127.0.0.1:{local}/ (forwarded over ssh; "
            "add the ?token=... the board prints if it serves beyond its loopback)")
        return remote.run(command, check=False, stream=True).exited


def follow_logs(remote, lines: int = 50, follow: bool = True) -> int:
    return remote.run(logs_command(lines, follow), check=False, stream=True).exited


@dataclass
class RemoteProfile:
    host: str
    exit_code: int
    files: list[Path]
    choice: dict | None


def profile_remote(remote, args: list[str], results_dir: Path, base_dir: str = DEFAULT_BASE,
                   *, stream: bool = True) -> RemoteProfile:
    """`edgenet profile ARGS --out <board dir>` in the current release, results copied to results_dir/<host>/."""
    if _has(args, "--out", "--csv", "--json-file"):
        raise DeployError("remote profile writes its own --out folder and copies it back: drop --out/--csv/--json-file")
    release, meta = current_release(remote, base_dir)
    base = remote_base(remote, base_dir)
    args = list(args)
    if not _has(args, "--models", "--grid"):
        args = ["--models", f"{release}/model"] + args
    out = f"{base}/results/{utc_stamp()}"
    remote.run(["mkdir", "-p", "--", out], what="creating the results folder")
    r = remote.run(edgenet_command(release, "profile", args + ["--out", out]), check=False, stream=stream,
                   what="edgenet profile")
    if r.exited not in (0, EXIT_NO_PICK):
        tail = "" if stream else " | ".join((r.stderr or r.stdout).strip().splitlines()[-2:])
        raise RemoteCommandError(f"{remote.spec.alias}: edgenet profile failed (exit {r.exited}){': ' + tail if tail else ''}")
    local = Path(results_dir) / remote.spec.folder_name
    local.mkdir(parents=True, exist_ok=True)
    present = set(remote.sftp.listdir(out))
    files = []
    for name in PROFILE_FILES:
        if name in present:
            remote.get(posixpath.join(out, name), local / name)
            files.append(local / name)
    if "profile.json" not in present:
        raise RemoteCommandError(f"{remote.spec.alias}: edgenet profile wrote no profile.json in {out}")
    choice = json.loads((local / "profile.json").read_text()).get("choice")
    return RemoteProfile(remote.spec.alias, r.exited, files, choice)


def push_models(remote, models: list[Path], base_dir: str = DEFAULT_BASE) -> str:
    """Upload .tflite models into a fresh <base>/models/<stamp>/ folder; returns it."""
    if not models:
        raise DeployError("no .tflite models to push")
    folder = f"{remote_base(remote, base_dir)}/models/{utc_stamp()}"
    remote.run(["mkdir", "-p", "--", folder], what="creating the models folder")
    for m in models:
        remote.put(m, f"{folder}/{m.name}")
    return folder


def profile_on_board(remote, models: list[Path], profile_args: list[str], results_dir: Path,
                     base_dir: str = DEFAULT_BASE, *, accuracy: tuple[Path, ...] = (), stream: bool = True) -> RemoteProfile:
    """The `edgenet profile --host` workflow on one connected board; --accuracy files travel beside the models."""
    folder = push_models(remote, models, base_dir)
    extra = []
    for i, acc in enumerate(accuracy):
        target = f"{folder}/.accuracy-{i}.json"  # dot name: not a model, and no user text in the path
        remote.put(acc, target)
        extra += ["--accuracy", target]
    return profile_remote(remote, ["--models", folder] + extra + list(profile_args), results_dir, base_dir, stream=stream)
