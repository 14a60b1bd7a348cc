"""Running one task on several boards: bounded parallelism, a status line per host, and a summary.
One failing host never stops the others."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import paramiko

from deploy.connect import ConnectOptions, Remote, connect
from deploy.errors import DeployError
from deploy.hosts import DEFAULT_SSH_CONFIG, HostSpec, load_ssh_config, resolve_host
from edgenet.errors import EdgenetError


@dataclass(frozen=True)
class SshSettings:
    """Where ssh settings come from. Defaults follow ssh; EDGENET_SSH_CONFIG / EDGENET_KNOWN_HOSTS
    override them (the test suite uses them to keep the developer's own files out)."""

    ssh_config: str | None = None
    known_hosts: str | None = None
    accept_new: bool = False
    timeout: float = 15.0

    def config(self) -> paramiko.SSHConfig:
        return load_ssh_config(self.ssh_config or os.environ.get("EDGENET_SSH_CONFIG") or DEFAULT_SSH_CONFIG)

    def connect_options(self) -> ConnectOptions:
        known = self.known_hosts or os.environ.get("EDGENET_KNOWN_HOSTS") or "~/.ssh/known_hosts"
        return ConnectOptions(known_hosts=known, accept_new=self.accept_new, timeout=self.timeout)


@dataclass
class HostOutcome:
    host: str
    ok: bool
    value: Any = None
    error: str | None = None
    exception: BaseException | None = None


@dataclass
class FleetReport:
    outcomes: list[HostOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[HostOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_lines(self) -> list[str]:
        n = len(self.outcomes)
        lines = [f"{n - len(self.failed)} of {n} host(s) succeeded"]
        lines += [f"  FAILED {o.host}: {o.error}" for o in self.failed]
        return lines


_print_lock = threading.Lock()


def status(message: str, stream=None) -> None:
    with _print_lock:
        print(message, file=stream or sys.stderr, flush=True)


def run_on_hosts(hosts: list[str], task: Callable[[Remote], Any], settings: SshSettings, *,
                 parallel: int = 4, on_status: Callable[[str], None] = status) -> FleetReport:
    """Resolve, connect and run ``task(remote)`` on every host, at most ``parallel`` at a time."""
    if parallel < 1:
        raise DeployError(f"--parallel must be >= 1, got {parallel}")
    ssh_config = settings.config()
    options = settings.connect_options()

    def one(host: str) -> HostOutcome:
        on_status(f"[{host}] connecting")
        try:
            spec: HostSpec = resolve_host(host, ssh_config)
            with connect(spec, options) as remote:
                value = task(remote)
        except EdgenetError as exc:
            if len(hosts) > 1:  # a lone host's error is printed once, as the CLI's one-line error
                on_status(f"[{host}] FAILED: {exc}")
            return HostOutcome(host, False, error=str(exc), exception=exc)
        except Exception as exc:  # noqa: BLE001 - one host's surprise must not stop the fleet
            on_status(f"[{host}] FAILED: {type(exc).__name__}: {exc}")
            return HostOutcome(host, False, error=f"{type(exc).__name__}: {exc}", exception=exc)
        on_status(f"[{host}] done")
        return HostOutcome(host, True, value=value)

    with ThreadPoolExecutor(max_workers=min(parallel, len(hosts)) or 1) as pool:
        outcomes = list(pool.map(one, hosts))
    return FleetReport(outcomes)
