"""A real Debian openssh-server on 127.0.0.1 for the @pytest.mark.ssh tests.

Runs as root (sshd needs it to switch users) with its own config, host key and authorized_keys,
and logs in as a throwaway user whose HOME is a temporary folder: nothing of the developer's
~/.ssh or of the system sshd is used or changed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_available() -> str | None:
    """None when usable, else the reason to skip."""
    if os.geteuid() != 0:
        return "the sshd tests need root (to run sshd and create a throwaway user)"
    if not os.path.exists(SSHD):
        return "openssh-server not installed (apt-get install openssh-server)"
    if not shutil.which("ssh-keygen") or not shutil.which("useradd"):
        return "ssh-keygen/useradd missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgenet-test", "-f", str(path)], check=True)
    return path


@dataclass
class TestUser:
    name: str
    home: Path
    key: Path


def create_user(root: Path, name: str | None = None) -> TestUser:
    """A throwaway login user whose HOME is ``root/home`` (default name: per test session, so tiers that
    need their own user pass another)."""
    name = name or f"edgenet-test-{os.getpid()}"
    home = root / "home"
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/bash", name], check=True, capture_output=True)
    # sshd without PAM refuses a locked account ('!' in shadow); '*' = no password, but not locked.
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
    return TestUser(name, home, keygen(root / "id_ed25519"))


def delete_user(user: TestUser) -> None:
    # Its sessions first: an sshd child kept alive by a client's ControlPersist (Ansible's default) would
    # outlive the user and pass to the next test user given the same uid.
    subprocess.run(["pkill", "-KILL", "-u", user.name], capture_output=True)
    for _ in range(50):
        if subprocess.run(["pgrep", "-u", user.name], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    subprocess.run(["userdel", "-f", user.name], capture_output=True)


class Sshd:
    def __init__(self, root: Path, user: TestUser, host_key: Path | None = None, extra: tuple[str, ...] = ()):
        self.root = root
        self.port = free_port()
        self.host_key = host_key or keygen(root / f"host_ed25519_{self.port}")
        auth = root / "authorized_keys"
        auth.write_text((user.key.with_suffix(".pub")).read_text())
        self.config = root / f"sshd_config_{self.port}"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {root}/sshd_{self.port}.pid", f"AuthorizedKeysFile {auth}",
            "UsePAM no", "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin no", f"AllowUsers {user.name}",
            "Subsystem sftp internal-sftp", "LogLevel ERROR", *extra, "",
        ]))
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = open(root / f"sshd_{self.port}.log", "w")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(root / f'sshd_{self.port}.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def public_host_key(self) -> str:
        return (self.host_key.with_suffix(".pub")).read_text().split()[:2]

    def known_hosts_line(self) -> str:
        kind, b64 = self.public_host_key()
        return f"[127.0.0.1]:{self.port} {kind} {b64}\n"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


REAL_PIP_CACHE = os.path.expanduser("~/.cache/pip")


def board_wheelhouse(board_root: Path, out: Path) -> Path:
    """The offline wheelhouse for a loopback board (this machine's system python3 under ``board_root``):
    its preflight facts, then deploy's own wheelhouse builder, from pip's real cache (the tests' HOME is
    a throwaway folder, so pip's default cache would start empty)."""
    from deploy.build import build_wheelhouse
    from deploy.preflight import parse_preflight, preflight_command

    facts = subprocess.run(["sh", "-c", preflight_command(str(board_root))], capture_output=True, text=True, check=True)
    old = os.environ.get("PIP_CACHE_DIR")
    os.environ["PIP_CACHE_DIR"] = REAL_PIP_CACHE
    try:
        return build_wheelhouse(parse_preflight(facts.stdout), out)
    finally:
        if old is None:
            os.environ.pop("PIP_CACHE_DIR")
        else:
            os.environ["PIP_CACHE_DIR"] = old


def make_root() -> Path:
    """A world-traversable temp folder (pytest's tmp folders are 0700 root: the test user could not
    reach its HOME inside them)."""
    root = Path(tempfile.mkdtemp(prefix="edgenet-sshd-"))
    root.chmod(0o755)
    return root
