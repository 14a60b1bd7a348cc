"""Which machine a HOST argument means: ``user@host[:port]`` or a name from ~/.ssh/config.

Resolution follows ssh: the config's HostName, User, Port, IdentityFile and ProxyJump apply, and a
user or port written in the argument wins over the config. Pure functions, no network.
"""

from __future__ import annotations

import getpass
import os
import re
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
    if not m:
        raise HostError(f"cannot read host {text!r}: expected user@host[:port] or a name from ~/.ssh/config")
    host = m.group("host").strip("[]")
    port = int(m.group("port")) if m.group("port") else None
    return m.group("user"), host, port


def load_ssh_config(path: str | os.PathLike | None = None) -> paramiko.SSHConfig:
    """Parse the ssh config (missing file = empty config)."""
    p = Path(os.path.expanduser(str(path or DEFAULT_SSH_CONFIG)))
    if p.is_file():
        return paramiko.SSHConfig.from_path(str(p))
    return paramiko.SSHConfig.from_text("")


def resolve_host(text: str, ssh_config: paramiko.SSHConfig | None = None, *, _depth: int = 0) -> HostSpec:
    """Resolve a HOST argument through the ssh config, as ssh does."""
    if _depth > 8:
        raise HostError(f"ProxyJump chain for {text!r} is longer than 8 hops (a loop in ~/.ssh/config?)")
    config = ssh_config if ssh_config is not None else load_ssh_config()
    user, name, port = split_host(text)
    entry = config.lookup(name)
    hostname = entry.get("hostname", name)
    user = user or entry.get("user") or getpass.getuser()
    if port is None:
        try:
            port = int(entry.get("port", 22))
        except ValueError:
            raise HostError(f"host {text!r}: Port {entry.get('port')!r} in the ssh config is not a number") from None
    identity = tuple(os.path.expanduser(f) for f in entry.get("identityfile", []))
    jumps: tuple[HostSpec, ...] = ()
    jump_text = entry.get("proxyjump")
    if jump_text and jump_text.lower() != "none":
        jumps = tuple(resolve_host(hop.strip(), config, _depth=_depth + 1) for hop in jump_text.split(",") if hop.strip())
        if any(j.hostname == hostname and j.port == port for j in jumps):
            jumps = ()  # a wildcard Host block naming itself as its own jump host, as ssh tolerates
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
