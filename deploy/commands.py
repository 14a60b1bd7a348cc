"""The entry points the CLI verbs call: one function per verb (deploy, rollback, remote, profile --host)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from deploy.build import build_wheel, build_wheelhouse, wheelhouse_key
from deploy.errors import DeployError, PreflightError
from deploy.fleet import FleetReport, SshSettings, run_on_hosts, status
from deploy.hosts import gather_hosts
from deploy.preflight import Preflight
from deploy.release import (DEFAULT_BASE, DeployConfig, artifact_manifest, checked_base_dir, deploy_release,
                            resolve_names, rollback)
from deploy.session import ABORT_WAIT_S
from deploy.service import ServiceConfig, install_service

REMOTE_ACTIONS = ("run", "eval", "profile", "logs")


class _WheelhouseCache:
    """One wheelhouse per board platform and requirement set, built once even when a fleet deploys in parallel."""

    def __init__(self, prebuilt: Path | None = None):
        self.prebuilt, self._lock, self._done = prebuilt, threading.Lock(), {}

    def __call__(self, pre: Preflight) -> Path:
        if self.prebuilt is not None:
            return self.prebuilt
        key = wheelhouse_key(pre)
        with self._lock:
            if key not in self._done:
                self._done[key] = build_wheelhouse(pre)
            return self._done[key]


def deploy_hosts(hosts: list[str], *, hosts_file: str | None = None, config: DeployConfig | None = None,
                 settings: SshSettings = SshSettings(), parallel: int = 4, service: ServiceConfig | None = None,
                 do_rollback: bool = False, wheelhouse: Path | None = None, base_dir: str = DEFAULT_BASE,
                 on_status: Callable[[str], None] = status,
                 on_step: Callable[[str], None] = lambda s: None, cancel: threading.Event | None = None) -> FleetReport:
    """`edgenet deploy`: a new release on every host (or --rollback in ``base_dir``), in parallel.
    Ctrl-C (or setting ``cancel``) stops every deploy before its switch."""
    checked_base_dir(config.base_dir if config else base_dir)  # refused before anything connects
    names = gather_hosts(hosts, hosts_file)
    if do_rollback:
        def task(remote):
            old, new = rollback(remote, config.base_dir if config else base_dir)
            on_status(f"[{remote.spec.alias}] current: {old} -> {new}")
            return new
        return run_on_hosts(names, task, settings, parallel=parallel, on_status=on_status)
    if config is None:
        raise DeployError("edgenet deploy needs --model M (or --rollback)")
    config = resolve_names(config, log=on_status)  # an index name: the workstation's cached file
    wheel = build_wheel()
    on_status(f"built {wheel.name}")
    houses = _WheelhouseCache(wheelhouse)
    manifest = artifact_manifest(wheel, config.model, config.labels)  # hashed once for the fleet
    cancel = cancel if cancel is not None else threading.Event()

    def service_possible(pre: Preflight) -> None:
        # Checked before anything changes on the board: a half-done --service deploy helps nobody.
        if service is not None and not (pre.systemd and pre.sudo):
            missing = "systemd (systemctl)" if not pre.systemd else "passwordless sudo for " + pre.user
            raise PreflightError(f"--service needs {missing} on the board; deploy without --service, or allow "
                                 f"it (e.g. `echo '{pre.user} ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/010_{pre.user}`)")

    def task(remote):
        result = deploy_release(remote, config, wheel=wheel, manifest=manifest,
                                wheelhouse=houses if config.offline else None, log=on_status, on_step=on_step,
                                after_preflight=service_possible, cancel=cancel)
        if service is not None:
            base = result.preflight.target
            result.service = install_service(remote, release=result.release, base=base, user=result.preflight.user,
                                             model_name=config.model.name,
                                             labels_name=config.labels.name if config.labels else None, service=service)
            on_status(f"[{remote.spec.alias}] service edgenet.service installed and restarted")
        return result

    return run_on_hosts(names, task, settings, parallel=parallel, on_status=on_status, cancel=cancel,
                        abort_wait=ABORT_WAIT_S)


def remote_hosts(hosts: list[str], action: str, args: list[str], *, hosts_file: str | None = None,
                 settings: SshSettings = SshSettings(), parallel: int = 4, results_dir: str = "results",
                 base_dir: str = DEFAULT_BASE, on_status: Callable[[str], None] = status,
                 local_port: int | None = None) -> FleetReport:
    """`edgenet remote HOST ACTION ARGS`: run/eval/profile/logs on each host with the current release."""
    from deploy import remote as ops

    if action not in REMOTE_ACTIONS:
        raise DeployError(f"unknown remote action {action!r}: use one of {', '.join(REMOTE_ACTIONS)}")
    checked_base_dir(base_dir)
    names = gather_hosts(hosts, hosts_file)
    if action == "run" and len(names) > 1 and ops.serve_port(args) is not None:
        raise DeployError("remote run --serve forwards one port: give one host (open several terminals for several)")

    # Model index names (in this workstation's index) are pulled here and pushed: boards need no internet.
    # Anything else stays what it always was, a path on the board.
    pushed = None
    index_models: dict[str, Path] = {}
    name = ops.model_arg(args) if action in ("run", "eval") else None
    if name is not None and _index_name(name):
        from edgenet.models import resolve_model

        resolved = resolve_model(name, log=on_status)
        pushed = (resolved.path, None if ops._has(args, "--labels") else resolved.labels)
    if action == "profile":
        from edgenet.models import resolve_model

        for item in ops.models_items(args):
            if _index_name(item):
                index_models[item] = resolve_model(item, log=on_status).path

    def task(remote):
        if action == "profile":
            board_args = ops.with_pushed_models(remote, args, index_models, base_dir) if index_models else args
            rp = ops.profile_remote(remote, board_args, Path(results_dir), base_dir, stream=len(names) == 1)
            on_status(f"[{remote.spec.alias}] results: " + ", ".join(str(f) for f in rp.files))
            return rp
        if action == "logs":
            code = ops.follow_logs(remote, follow="--no-follow" not in args)
        else:
            code = ops.run_verb(remote, action, args, base_dir, log=on_status, local_port=local_port, pushed=pushed)
        if code != 0:
            raise DeployError(f"edgenet {action} exited with {code} on the board")
        return code

    return run_on_hosts(names, task, settings, parallel=parallel, on_status=on_status)


def _index_name(text: str) -> bool:
    from edgenet.models import load_index, looks_like_path

    return not looks_like_path(text) and load_index().get(text) is not None


def _grid_models(model_cache: str | None, log: Callable[[str], None]) -> list[Path]:
    from calibration.grid import latency_builder
    from edgenet.profiler.build import build_missing, default_cache_dir, grid_model_path
    from edgenet.variants import standard_variants

    folder = Path(model_cache) if model_cache else default_cache_dir()
    variants = standard_variants()
    # Without TensorFlow there is no builder: a ModelError with the how-to.
    build_missing(folder, variants, builder=latency_builder(), log=log)
    return [grid_model_path(folder, v) for v in variants]


def _listed_models(items: list[str] | tuple[str, ...], log: Callable[[str], None]) -> list[Path]:
    """--models items on the workstation: folders of .tflite files, files, or index names (pulled here)."""
    from edgenet.models import resolve_model

    models: list[Path] = []
    for item in items:
        if Path(item).is_dir():
            found = sorted(Path(item).glob("*.tflite"))
            if not found:
                raise DeployError(f"no .tflite files in {item}")
            models += found
        else:
            models.append(resolve_model(item, log=log).path)
    return models


def profile_hosts(hosts: list[str], *, models: list[str] | tuple[str, ...] | None = None, grid_weights: str = "official",
                  model_cache: str | None = None, profile_args: list[str],
                  accuracy: tuple[str, ...] = (), hosts_file: str | None = None, settings: SshSettings = SshSettings(), parallel: int = 4,
                  results_dir: str = "results", base_dir: str = DEFAULT_BASE,
                  on_status: Callable[[str], None] = status) -> FleetReport:
    """`edgenet profile --host H`: the --models items (folders, files, index names) or the grid (the official
    models pulled here, or random-weight builds) pushed and profiled on the board (which needs no internet),
    results copied back to results/<host>/; the outcome values carry each host's choice."""
    from deploy import remote as ops

    checked_base_dir(base_dir)
    if models:
        paths = _listed_models(models, on_status)
    elif grid_weights == "official":
        from edgenet.profiler.models import official_models

        paths = [Path(e.path) for e in official_models(log=on_status)]
    else:
        paths = _grid_models(model_cache, on_status)
    acc = tuple(Path(a) for a in accuracy)
    for a in acc:
        if not a.is_file():
            raise DeployError(f"accuracy file {a} not found")
    names = gather_hosts(hosts, hosts_file)

    def task(remote):
        return ops.profile_on_board(remote, paths, profile_args, Path(results_dir), base_dir, accuracy=acc,
                                    stream=False)

    return run_on_hosts(names, task, settings, parallel=parallel, on_status=on_status)
