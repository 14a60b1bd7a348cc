"""``--service``: a systemd unit that runs ``edgenet run`` from the current release, as the ssh user.

The unit points at ``<base>/current``, so a later deploy or rollback only needs a restart. It is
installed with ``sudo -n`` (passwordless sudo, as on Raspberry Pi OS; a board that asks for a
password gets a clear error instead of a hanging prompt).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from deploy.errors import DeployError

UNIT_NAME = "edgenet.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"


def systemd_quote(arg: str) -> str:
    """Quote one ExecStart argument for systemd (its own rules, not the shell's): double quotes with
    backslash escapes; '%' (specifiers) and '$' (variable expansion) doubled."""
    if "\n" in arg:
        raise DeployError("a service argument cannot contain a newline")
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


@dataclass(frozen=True)
class ServiceConfig:
    source: str | None = None
    run_args: tuple[str, ...] = ("--headless",)
    camera: int | None = None  # passed on as --camera N: the board decides what it means (edgenet.board.camera)

    def __post_init__(self):
        if not self.source and self.camera is None:
            raise DeployError("--service needs --source URI (or --camera N): what should the service watch?")
        if self.source and self.camera is not None:
            raise DeployError("--service watches one source: give --source URI or --camera N, not both")
        if self.camera is not None and self.camera < 0:
            raise DeployError(f"camera number must be 0 or more, got {self.camera}")
        object.__setattr__(self, "run_args", tuple(self.run_args))

    def source_args(self) -> list[str]:
        return ["--camera", str(self.camera)] if self.camera is not None else ["--source", self.source]


def unit_text(*, user: str, base: str, model_name: str, labels_name: str | None, service: ServiceConfig) -> str:
    current = f"{base}/current"
    # the venv's python runs the package: pip's console-script launcher may be a shell script
    argv = [f"{current}/venv/bin/python", "-m", "edgenet", "run", "--model", f"{current}/model/{model_name}"]
    if labels_name:
        argv += ["--labels", f"{current}/model/{labels_name}"]
    argv += [*service.source_args(), *service.run_args]
    return "\n".join([
        "[Unit]",
        "Description=edgenet live classification (edgenet run)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={user}",
        f"WorkingDirectory={systemd_quote(current)[1:-1]}",
        "ExecStart=" + " ".join(systemd_quote(a) for a in argv),
        "Restart=on-failure",
        "RestartSec=5",
        "Environment=PYTHONUNBUFFERED=1",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def install_commands(unit_file: str) -> list[list[str]]:
    """The exact commands (argv) that install and (re)start the unit; ``unit_file`` is the uploaded text."""
    return [
        ["sudo", "-n", "install", "-m", "0644", "--", unit_file, UNIT_PATH],
        ["sudo", "-n", "systemctl", "daemon-reload"],
        ["sudo", "-n", "systemctl", "enable", UNIT_NAME],
        ["sudo", "-n", "systemctl", "restart", UNIT_NAME],
    ]


def install_service(remote, *, release: str, base: str, user: str, model_name: str, labels_name: str | None,
                    service: ServiceConfig) -> list[list[str]]:
    """Upload the unit into the release folder and install/restart it. Returns the commands run."""
    text = unit_text(user=user, base=base, model_name=model_name, labels_name=labels_name, service=service)
    unit_file = f"{release}/{UNIT_NAME}"
    remote.write_text(unit_file, text)
    commands = install_commands(unit_file)
    for cmd in commands:
        r = remote.run(cmd, check=False, what="installing the service")
        if r.exited != 0:
            hint = " (needs passwordless sudo for the ssh user)" if "password" in (r.stderr or "").lower() else ""
            raise DeployError(f"{remote.spec.alias}: `{shlex.join(cmd)}` failed{hint}: {(r.stderr or r.stdout).strip()[:200]}")
    return commands


def logs_command(lines: int = 50, follow: bool = True) -> list[str]:
    return ["journalctl", "-u", UNIT_NAME, "-n", str(int(lines)), "--no-pager"] + (["-f"] if follow else [])
