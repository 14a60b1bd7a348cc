"""Loopback boards for the Ansible tier (tests/test_deploy_ansible.py) and benchmarks/fleet.py.

Each board is its own throwaway user with its own sshd (Debian's openssh-server, tests/sshd.py), so
they differ in user and base folder. A *broken* board gets a ``python3`` first on its PATH (sshd's
``SetEnv PATH=...``) whose ``-m venv`` fails: the shadow ``venv`` package on its PYTHONPATH imports
(preflight's ``import venv, ensurepip`` passes) but refuses to run, and the board command's children
inherit it, so the dependency env cannot be built there.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests import sshd as sshd_mod

BROKEN_VENV_MESSAGE = "venv is broken on this board (edgenet's Ansible test)"


@dataclass
class Board:
    alias: str
    root: Path
    user: sshd_mod.TestUser
    sshd: sshd_mod.Sshd | None = None

    def path(self, rel: str, base: str = "edgenet") -> Path:
        return self.user.home / base / rel


def _broken_python(root: Path) -> str:
    """A folder holding a ``python3`` whose ``-m venv`` fails (children included); returns the folder."""
    shadow = root / "shadow"
    (shadow / "venv").mkdir(parents=True)
    (shadow / "venv" / "__init__.py").write_text("")
    (shadow / "venv" / "__main__.py").write_text(f"import sys\nsys.exit({BROKEN_VENV_MESSAGE!r})\n")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{shadow}${{PYTHONPATH:+:$PYTHONPATH}}" exec /usr/bin/python3 "$@"\n')
    wrapper.chmod(0o755)
    for p in (root, shadow, shadow / "venv", bin_dir):
        p.chmod(0o755)
    return str(bin_dir)


def start_boards(specs: list[tuple[str, bool]], tag: str) -> list[Board]:
    """Start one board per (alias, broken) in ``specs``; user names are ``edgenet-<tag><i>-<pid>``."""
    boards: list[Board] = []
    try:
        for i, (alias, broken) in enumerate(specs):
            root = sshd_mod.make_root()
            board = Board(alias, root, sshd_mod.create_user(root, f"edgenet-{tag}{i}-{os.getpid()}"))
            boards.append(board)
            extra = (f"SetEnv PATH={_broken_python(root)}:/usr/local/bin:/usr/bin:/bin",) if broken else ()
            board.sshd = sshd_mod.Sshd(root, board.user, extra=extra)
    except BaseException:
        stop_boards(boards)
        raise
    return boards


def stop_boards(boards: list[Board]) -> None:
    for b in boards:
        if b.sshd is not None:
            b.sshd.stop()
        sshd_mod.delete_user(b.user)
        shutil.rmtree(b.root, ignore_errors=True)


def write_ssh_files(folder: Path, boards: list[Board]) -> tuple[Path, Path]:
    """An ssh config naming every board by its alias, and a known_hosts trusting them: (config, known_hosts)."""
    config, known = folder / "ssh_config", folder / "known_hosts"
    config.write_text("".join(
        f"Host {b.alias}\n  HostName 127.0.0.1\n  Port {b.sshd.port}\n  User {b.user.name}\n  IdentityFile {b.user.key}\n"
        "  IdentitiesOnly yes\n\n" for b in boards))
    known.write_text("".join(b.sshd.known_hosts_line() for b in boards))
    return config, known
