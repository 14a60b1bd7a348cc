"""Which machine a HOST argument means: ``user@host[:port]`` or a name from ~/.ssh/config.

Resolution is OpenSSH's own: ``ssh -G HOST`` prints the configuration ssh would use (``Include``,
``Match``, wildcards, ``%`` tokens, the system-wide file), and its HostName, User, Port, IdentityFile
and ProxyJump apply; a user or port written in the argument wins over the config (as ``-l``/``-p``).
paramiko's parser, which ignores ``Include`` (paramiko #1609), is only the fallback on a machine
without an OpenSSH client. No network.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from deploy.errors import HostError

DEFAULT_SSH_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

_HOST_RE = re.compile(r"^(?:(?P<user>[^@\s:/]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^@\s:/\[\]]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class HostSpec:
    """One resolved ssh destination. ``alias`` is what the user typed (used for result folders)."""

    alias: str
    hostname: str
    user: str
    port: int = 22
    identity_files: tuple[str, ...] = ()
    proxy_jump: tuple["HostSpec", ...] = field(default=())

    def __post_init__(self):
        if not self.hostname:
            raise HostError(f"host {self.alias!r}: empty host name")
        if not 0 < self.port < 65536:
            raise HostError(f"host {self.alias!r}: port {self.port} is not in 1..65535")

    @property
    def label(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def folder_name(self) -> str:
        """A filesystem-safe name for results/<host>/."""
        return re.sub(r"[^A-Za-z0-9._@-]+", "_", self.alias).strip("._") or "host"


def split_host(text: str) -> tuple[str | None, str, int | None]:
    """'pi@board:2222' -> ('pi', 'board', 2222). Raises HostError on anything else."""
    m = _HOST_RE.match(text.strip())
    if not m or text.strip().startswith("-") or (m.group("host") or "").startswith("-"):
        raise HostError(f"cannot read host {text!r}: expected user@host[:port] or a name from ~/.ssh/config")
    host = m.group("host").strip("[]")
    port = int(m.group("port")) if m.group("port") else None
    return m.group("user"), host, port


def load_ssh_config(path: str | os.PathLike | None = None) -> paramiko.SSHConfig:
    """Parse the ssh config with paramiko (missing file = empty config): the fallback where no
    OpenSSH client is installed. paramiko ignores ``Include`` and knows only part of ``Match``."""
    p = Path(os.path.expanduser(str(path or DEFAULT_SSH_CONFIG)))
    if p.is_file():
        return paramiko.SSHConfig.from_path(str(p))
    return paramiko.SSHConfig.from_text("")


# What `ssh -G` lists as IdentityFile when the config names none (ssh then tries each that exists;
# paramiko's look_for_keys does the same from $HOME, so these are not passed on as configured).
DEFAULT_IDENTITIES = frozenset(f"~/.ssh/{n}" for n in ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519",
                                                         "id_ed25519_sk", "id_xmss", "id_dsa"))
SSH_G_TIMEOUT_S = 15  # a `Match exec` command runs during resolution


def ssh_g(name: str, config_path: str | None, user: str | None = None, port: int | None = None) -> dict:
    """``ssh -G``'s view of ``name`` (Include, Match, wildcards and all): {key: [values]}."""
    ssh = shutil.which("ssh")
    argv = [ssh, "-G"]
    if config_path is not None:
        path = os.path.expanduser(str(config_path))
        argv += ["-F", path if os.path.isfile(path) else os.devnull]
    if user:
        argv += ["-l", user]
    if port:
        argv += ["-p", str(port)]
    try:
        proc = subprocess.run(argv + ["--", name], capture_output=True, text=True, timeout=SSH_G_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HostError(f"`ssh -G {name}` took more than {SSH_G_TIMEOUT_S} s (a Match exec in the ssh config?)") from None
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.strip().splitlines() if not l.startswith("Pseudo-terminal")]
        raise HostError(f"ssh cannot resolve host {name!r} with its config: {'; '.join(lines[:3]) or 'no output'}")
    values: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), []).append(value.strip())
    return values


def _expand_tokens(path: str, hostname: str, user: str) -> str:
    tokens = {"%d": os.path.expanduser("~"), "%u": getpass.getuser(), "%h": hostname, "%r": user, "%%": "%"}
    return os.path.expanduser(re.sub(r"%[duhr%]", lambda m: tokens[m.group(0)], path))


def resolve_host(text: str, ssh_config: str | paramiko.SSHConfig | None = None, *, _depth: int = 0) -> HostSpec:
    """Resolve a HOST argument as OpenSSH does: by ``ssh -G`` (so ``Include``, ``Match`` and wildcards
    in the config apply) with ``ssh_config`` as its ``-F`` (None: ssh's own defaults). A parsed
    paramiko config, or no ssh client on this machine, uses paramiko's parser instead."""
    if _depth > 8:
        raise HostError(f"ProxyJump chain for {text!r} is longer than 8 hops (a loop in ~/.ssh/config?)")
    user, name, port = split_host(text)
    if isinstance(ssh_config, paramiko.SSHConfig) or shutil.which("ssh") is None:
        config = ssh_config if isinstance(ssh_config, paramiko.SSHConfig) else load_ssh_config(ssh_config)
        return _resolve_with_paramiko(text, user, name, port, config, _depth)
    values = ssh_g(name, ssh_config, user, port)
    first = {k: v[0] for k, v in values.items()}
    hostname = first.get("hostname") or name
    user = first.get("user") or getpass.getuser()
    try:
        port = int(first.get("port", 22))
    except ValueError:
        raise HostError(f"host {text!r}: Port {first.get('port')!r} in the ssh config is not a number") from None
    files = values.get("identityfile", [])
    identity = () if set(files) <= DEFAULT_IDENTITIES else tuple(_expand_tokens(f, hostname, user) for f in files)
    jumps = _jumps(first.get("proxyjump"), hostname, port, ssh_config, _depth)
    return HostSpec(alias=text.strip(), hostname=hostname, user=user, port=port, identity_files=identity,
                    proxy_jump=jumps)


def _jumps(jump_text: str | None, hostname: str, port: int, config, depth: int) -> tuple:
    if not jump_text or jump_text.lower() == "none":
        return ()
    hops = [h.strip().removeprefix("ssh://") for h in jump_text.split(",") if h.strip()]
    jumps = tuple(resolve_host(hop, config, _depth=depth + 1) for hop in hops)
    if any(j.hostname == hostname and j.port == port for j in jumps):
        return ()  # a wildcard Host block naming itself as its own jump host, as ssh tolerates
    return jumps


def _resolve_with_paramiko(text: str, user, name: str, port, config: paramiko.SSHConfig, depth: int) -> HostSpec:
    entry = config.lookup(name)
    hostname = entry.get("hostname", name)
    user = user or entry.get("user") or getpass.getuser()
    if port is None:
        try:
            port = int(entry.get("port", 22))
        except ValueError:
            raise HostError(f"host {text!r}: Port {entry.get('port')!r} in the ssh config is not a number") from None
    identity = tuple(os.path.expanduser(f) for f in entry.get("identityfile", []))
    jumps = _jumps(entry.get("proxyjump"), hostname, port, config, depth)
    return HostSpec(alias=text.strip(), hostname=hostname, user=user, port=port,
                    identity_files=identity, proxy_jump=jumps)


def read_hosts_file(path: str | os.PathLike) -> list[str]:
    """One host per line; blank lines and '#' comments ignored."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise HostError(f"cannot read hosts file {path}: {exc.strerror}") from None
    hosts = [line.split("#", 1)[0].strip() for line in lines]
    return [h for h in hosts if h]


def gather_hosts(hosts: list[str], hosts_file: str | None = None) -> list[str]:
    """The HOST arguments plus the hosts file, in order, without duplicates."""
    out: list[str] = []
    for h in list(hosts) + (read_hosts_file(hosts_file) if hosts_file else []):
        if h not in out:
            out.append(h)
    if not out:
        raise HostError("no host given: name one (user@host[:port] or an ~/.ssh/config name) or use --hosts-file")
    return out
