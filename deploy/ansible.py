"""``edgenet deploy --emit-ansible DIR``: the same deploy as an Ansible inventory and playbooks, for fleets.

What is written (docs/deploy.md, "Fleets with Ansible")::

    DIR/inventory.ini          hosts grouped by board kind (edgenet_<kind>), all under edgenet_boards
    DIR/host_vars/HOST.yml     how to reach it (the HOST as typed: OpenSSH resolves it, as for edgenet deploy)
    DIR/group_vars/all.yml     base folder, artifact names, ssh options; group_vars/<kind>.yml its wheelhouse
    DIR/fleet.yml              serial and max_fail_percentage (play keywords: -e overrides them)
    DIR/artifacts/             the board wheel, the model, labels, manifest(s); wheelhouse/<kind>/ with --offline
    DIR/deploy.yml, rollback.yml (deploy.playbooks), edgenet.service.j2 with --service

The boards are preflighted here when they can be reached (the same facts and requirement set
``edgenet deploy`` computes): the kind is the wheelhouse key (Python, userland architecture, glibc,
requirement set) and the board type, so a group is exactly "boards that take the same wheelhouse";
``--offline`` builds one per kind here. A board that cannot be reached now still gets a place
(``edgenet_unreached``: it installs from the index when it is up; with ``--offline`` it is failed
in the play with the reason, as is a board preflight refuses). Emitting never changes a board.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from deploy.errors import DeployError, HostError, PreflightError
from deploy.fleet import SshSettings, run_on_hosts, status
from deploy.hosts import gather_hosts, split_host
from deploy.preflight import Preflight, check, run_preflight
from deploy.release import DeployConfig, artifact_manifest, checked_base_dir, resolve_names
from deploy.service import ServiceConfig

MARKER = ".edgenet-ansible"  # an emitted DIR: a later emit may replace it, nothing else is overwritten
BOARDS = "edgenet_boards"
UNREACHED = "edgenet_unreached"
DEFAULT_SERIAL = "100%"  # every board in one batch: -f (forks) bounds how many at once
DEFAULT_MAX_FAIL = 100  # one board failing never stops the others (as edgenet deploy)


@dataclass
class EmitReport:
    out_dir: Path
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> inventory names
    refused: dict[str, str] = field(default_factory=dict)  # inventory name -> why the play will fail it
    unreached: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{group}: {', '.join(names)}" for group, names in self.groups.items()]
        out += [f"  {name}: refused: {why}" for name, why in self.refused.items()]
        out += [f"  {name}: not reached: {why}" for name, why in self.unreached.items()]
        out.append(f"run: ansible-playbook -i {self.out_dir}/inventory.ini {self.out_dir}/deploy.yml -f 50")
        return out


def unsafe(text: str) -> str:
    """A YAML string Ansible never templates (``!unsafe``): file names and paths are data."""
    return "!unsafe " + json.dumps(str(text))


def yaml_value(value) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return unsafe(value)


def yaml_vars(values: dict, comment: str = "") -> str:
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + "---\n" + "".join(f"{key}: {yaml_value(v)}\n" for key, v in values.items())


def play_base(base_dir: str) -> str:
    """The base folder as the play resolves it: absolute, ``~`` or ``~/...`` (relative means HOME)."""
    checked_base_dir(base_dir)
    if base_dir.startswith("/"):
        return posixpath.normpath(base_dir)
    rest = base_dir[2:] if base_dir.startswith("~/") else "" if base_dir == "~" else base_dir
    rest = posixpath.normpath(rest) if rest else ""
    return "~" if rest in ("", ".") else f"~/{rest}"


def inventory_name(host: str, taken: set[str]) -> str:
    """An inventory name for HOST (letters, digits, ``.``, ``_``, ``-``), unique in ``taken``."""
    user, name, port = split_host(host)
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "board"
    if port:
        base += f"_{port}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def kind_group(pre: Preflight) -> str:
    """``edgenet_<board type>_<wheelhouse key>``: boards in a group take the same wheelhouse."""
    from deploy.build import wheelhouse_key

    return "edgenet_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{pre.board_kind}_{wheelhouse_key(pre)}").strip("_").lower()


def ssh_args(settings: SshSettings) -> list[str]:
    """OpenSSH options that make Ansible's ssh use what edgenet's would: the same config and known_hosts."""
    args = []
    if settings.config():
        args += ["-F", os.path.abspath(os.path.expanduser(settings.config()))]
    known = settings.known_hosts_file()
    if known:
        args += ["-o", "UserKnownHostsFile=" + os.path.abspath(os.path.expanduser(known))]
    if settings.accept_new:
        args += ["-o", "StrictHostKeyChecking=accept-new"]
    args += ["-o", f"ConnectTimeout={max(1, round(settings.timeout))}"]
    return args


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def check_out_dir(out_dir: Path) -> None:
    """DeployError unless ``out_dir`` is new, empty, or emitted before (then it is replaced at the end)."""
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise DeployError(f"--emit-ansible {out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
            raise DeployError(f"--emit-ansible {out_dir}: the folder holds other files; give a new or empty folder "
                              "(a folder emitted before is replaced)")


def _prepare(out_dir: Path) -> Path:
    """A fresh folder beside ``out_dir`` to write into (swapped in at the end)."""
    check_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def _swap_in(new: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.rename(out_dir, old / "dir")
    os.rename(new, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def preflight_hosts(names: list[str], base_dir: str, settings: SshSettings, parallel: int,
                    on_status: Callable[[str], None]) -> dict:
    """{host: Preflight or the error text}: every host's facts, read over ssh (nothing is changed)."""
    report = run_on_hosts(names, lambda remote: run_preflight(remote, base_dir), settings, parallel=parallel,
                          on_status=on_status)
    out = {}
    for o in report.outcomes:
        if isinstance(o.exception, HostError) and "cannot read host" in str(o.exception):
            raise o.exception
        out[o.host] = o.value if o.ok else (o.error or "unreachable")
    return out


def emit_ansible(out_dir: str | os.PathLike, hosts: list[str], *, config: DeployConfig, hosts_file: str | None = None,
                 settings: SshSettings = SshSettings(), parallel: int = 4, service: ServiceConfig | None = None,
                 wheelhouse: Path | None = None, on_status: Callable[[str], None] = status) -> EmitReport:
    """Write the inventory, vars, artifacts and playbooks for ``hosts`` into ``out_dir``; boards are only read."""
    from deploy.build import build_wheel, build_wheelhouse, wheelhouse_key
    from deploy.playbooks import deploy_playbook, rollback_playbook, unit_template

    out = Path(out_dir)
    check_out_dir(out)  # refused before anything is built or connected
    base = play_base(config.base_dir)
    names = gather_hosts(hosts, hosts_file)
    taken: set[str] = set()
    inv = {h: inventory_name(h, taken) for h in names}  # bad HOST syntax: refused before anything connects
    config = resolve_names(config, log=on_status)
    wheel = build_wheel()
    on_status(f"built {wheel.name}")
    facts = preflight_hosts(names, config.base_dir, settings, parallel, on_status)
    work = _prepare(out)
    try:
        report = EmitReport(out)
        art = work / "artifacts"
        files = [wheel, config.model] + ([config.labels] if config.labels else [])
        for f in files:
            _link(f, art / f.name)
        (art / "manifest.json").write_text(json.dumps(artifact_manifest(wheel, config.model, config.labels), indent=1))
        houses: dict[str, Path] = {}
        host_vars, group_vars = {}, {}
        for host in names:
            name, pre = inv[host], facts[host]
            user, hostname, port = split_host(host)
            hv = {"ansible_host": hostname}
            if user:
                hv["ansible_user"] = user
            if port:
                hv["ansible_port"] = port
            note = ""
            if isinstance(pre, str):
                group = UNREACHED
                report.unreached[name] = pre
                note = f"not reached when emitted: {pre}"
                if config.offline:
                    hv["edgenet_refused"] = (f"{host} was not reached when this playbook was emitted ({pre}); "
                                             "its wheelhouse is not here: run edgenet deploy --emit-ansible again")
            else:
                group = kind_group(pre)
                note = "; ".join(pre.lines()[:4])
                hv.update(edgenet_home=pre.home, edgenet_user=pre.user)  # saves the play a look at the board
                if pre.python:  # the python3 edgenet deploy would use; saves Ansible's interpreter discovery
                    hv["ansible_python_interpreter"] = pre.python
                try:
                    check(pre)
                    if service is not None and not (pre.systemd and pre.sudo):
                        raise PreflightError("--service needs systemd and passwordless sudo on the board")
                except PreflightError as exc:
                    hv["edgenet_refused"] = f"{host}: {exc}"
                if config.offline and group not in houses and "edgenet_refused" not in hv:
                    houses[group] = wheelhouse or build_wheelhouse(pre)
                    on_status(f"wheelhouse {wheelhouse_key(pre)}: {houses[group]}")
            if "edgenet_refused" in hv:
                report.refused[name] = hv["edgenet_refused"]
            report.groups.setdefault(group, []).append(name)
            host_vars[name] = (hv, f"{host}: {note}" if note else host)
        for group, house in houses.items():
            wheels = sorted(Path(house).glob("*.whl"))
            for w in wheels:
                _link(w, art / "wheelhouse" / group / w.name)
            manifest = artifact_manifest(wheel, config.model, config.labels, wheels)
            (art / f"manifest-{group}.json").write_text(json.dumps(manifest, indent=1))
            group_vars[group] = {"edgenet_manifest_file": f"artifacts/manifest-{group}.json",
                                 "edgenet_wheelhouse_dir": f"artifacts/wheelhouse/{group}"}
        _write(work, report, host_vars, group_vars, base=base, files=files, config=config, settings=settings,
               service=service)
        (work / "deploy.yml").write_text(deploy_playbook(str(out)))
        (work / "rollback.yml").write_text(rollback_playbook(str(out)))
        if service is not None:
            (work / "edgenet.service.j2").write_text(unit_template(
                model_name=config.model.name, labels_name=config.labels.name if config.labels else None,
                service=service))
        (work / MARKER).write_text("emitted by edgenet deploy --emit-ansible\n")
        _swap_in(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _write(work: Path, report: EmitReport, host_vars: dict, group_vars: dict, *, base: str, files: list[Path],
           config: DeployConfig, settings: SshSettings, service: ServiceConfig | None) -> None:
    lines = ["# edgenet boards, one group per board kind (board type and wheelhouse key: Python, userland",
             "# architecture, glibc, requirement set), read by edgenet's preflight when this was emitted.", ""]
    for group, members in report.groups.items():
        lines += [f"[{group}]", *members, ""]
    lines += [f"[{BOARDS}:children]", *report.groups, ""]
    (work / "inventory.ini").write_text("\n".join(lines))
    (work / "host_vars").mkdir()
    for name, (hv, comment) in host_vars.items():
        (work / "host_vars" / f"{name}.yml").write_text(yaml_vars(hv, comment))
    (work / "group_vars").mkdir()
    source = ["--wheelhouse", "wheelhouse"] if config.offline else \
        ["--index-url", config.index_url] if config.index_url else []
    all_vars = {
        "edgenet_base": base,
        "edgenet_python": "python3",
        "edgenet_files": [f.name for f in files],  # the wheel first: it runs the board command
        "edgenet_manifest_file": "artifacts/manifest.json",
        "edgenet_install_args_extra": source + ["--keep", str(config.keep)] + (["--fresh-env"] if config.fresh_env else []),
        "edgenet_service": service is not None,
        "ansible_python_interpreter": "auto_silent",
        "ansible_pipelining": True,  # one ssh round trip per task instead of three
        # Ansible splits ssh_common_args with shlex.
        "ansible_ssh_common_args": " ".join(shlex.quote(a) for a in ssh_args(settings)),
    }
    text = yaml_vars(all_vars, "Every board's vars (override per group or host in group_vars/<kind>.yml, host_vars/).")
    text += ('edgenet_install_args: "{{ [\'--base\', edgenet_base_path, \'--manifest\', \'-\', \'--artifacts\', '
             'edgenet_base_path ~ \'/incoming\', \'--if-changed\'] + edgenet_install_args_extra }}"\n')
    (work / "group_vars" / "all.yml").write_text(text)
    for group, gv in group_vars.items():
        (work / "group_vars" / f"{group}.yml").write_text(yaml_vars(gv, f"{group}: its wheelhouse (--offline)"))
    (work / "fleet.yml").write_text(
        "# Play keywords (override with -e): how many boards per batch (a number or a percentage), and the\n"
        "# percentage of failed boards in a batch above which the play stops for the rest.\n---\n"
        f'edgenet_serial: "{DEFAULT_SERIAL}"\nedgenet_max_fail_percentage: {DEFAULT_MAX_FAIL}\n')
