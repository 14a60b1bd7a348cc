"""Running one task on several boards: bounded parallelism, a status line per host, and a summary.
One failing host never stops the others."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from deploy.connect import ConnectOptions, Remote, connect
from deploy.errors import DeployError, Interrupted
from deploy.hosts import HostSpec, resolve_host
from edgenet.errors import EdgenetError


@dataclass(frozen=True)
class SshSettings:
    """Where ssh settings come from. Defaults follow ssh; EDGENET_SSH_CONFIG / EDGENET_KNOWN_HOSTS
    override them (the test suite uses them to keep the developer's own files out)."""

    ssh_config: str | None = None
    known_hosts: str | None = None
    accept_new: bool = False
    timeout: float = 15.0

    def config(self) -> str | None:
        """The ssh config file to resolve hosts with (``ssh -G -F``); None: ssh's own defaults."""
        return self.ssh_config or os.environ.get("EDGENET_SSH_CONFIG") or None

    def known_hosts_file(self) -> str | None:
        """The known_hosts file edgenet was told to use; None: ssh's own (``~/.ssh/known_hosts``)."""
        return self.known_hosts or os.environ.get("EDGENET_KNOWN_HOSTS") or None

    def connect_options(self) -> ConnectOptions:
        return ConnectOptions(known_hosts=self.known_hosts_file() or "~/.ssh/known_hosts", accept_new=self.accept_new,
                              timeout=self.timeout)


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
                 parallel: int = 4, on_status: Callable[[str], None] = status,
                 cancel: threading.Event | None = None, abort_wait: float = 0.0) -> FleetReport:
    """Resolve, connect and run ``task(remote)`` on every host, at most ``parallel`` at a time.

    Ctrl-C (KeyboardInterrupt here, in the main thread) sets ``cancel``: hosts not started yet are
    skipped, tasks that watch ``cancel`` undo their work (a deploy: nothing switched), and those still
    busy after ``abort_wait`` seconds have their connection closed. Then Interrupted (exit 130) says
    what each host was left with."""
    if parallel < 1:
        raise DeployError(f"--parallel must be >= 1, got {parallel}")
    ssh_config = settings.config()
    options = settings.connect_options()
    cancel = cancel if cancel is not None else threading.Event()
    open_remotes: dict[str, Remote] = {}

    def one(host: str) -> HostOutcome:
        if cancel.is_set():
            return HostOutcome(host, False, error="not started (interrupted)", exception=Interrupted("interrupted"))
        on_status(f"[{host}] connecting")
        try:
            spec: HostSpec = resolve_host(host, ssh_config)
            with connect(spec, options) as remote:
                open_remotes[host] = remote
                value = task(remote)
        except EdgenetError as exc:
            if len(hosts) > 1 or isinstance(exc, Interrupted):  # a lone host's error is the CLI's one line
                on_status(f"[{host}] FAILED: {exc}")
            return HostOutcome(host, False, error=str(exc), exception=exc)
        except Exception as exc:  # noqa: BLE001 - one host's surprise must not stop the fleet
            if cancel.is_set():
                exc = Interrupted(f"{host}: interrupted ({type(exc).__name__}: {exc})")
                on_status(f"[{host}] FAILED: {exc}")
                return HostOutcome(host, False, error=str(exc), exception=exc)
            on_status(f"[{host}] FAILED: {type(exc).__name__}: {exc}")
            return HostOutcome(host, False, error=f"{type(exc).__name__}: {exc}", exception=exc)
        finally:
            open_remotes.pop(host, None)
        on_status(f"[{host}] done")
        return HostOutcome(host, True, value=value)

    pool = ThreadPoolExecutor(max_workers=min(parallel, len(hosts)) or 1)
    futures = [pool.submit(one, host) for host in hosts]
    try:
        outcomes = [f.result() for f in futures]
    except KeyboardInterrupt:
        cancel.set()
        on_status("edgenet: interrupted: stopping")
        _wait(futures, abort_wait)
        for remote in list(open_remotes.values()):
            remote.close()  # a task that does not watch `cancel` (a remote run) ends with its connection
        _wait(futures, 10.0)
        pool.shutdown(wait=False, cancel_futures=True)
        done = [f.result() for f in futures if f.done() and not f.cancelled()]
        finished = [o.host for o in done if o.ok]
        raise Interrupted("interrupted" + (f" (finished before it: {', '.join(finished)})" if finished else "")) from None
    pool.shutdown()
    return FleetReport(outcomes)


def _wait(futures, seconds: float) -> None:
    from concurrent.futures import wait

    try:
        wait(futures, timeout=seconds)
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        pass
