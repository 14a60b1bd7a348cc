"""Host arguments, ~/.ssh/config resolution and hosts files (pure, no network)."""

from __future__ import annotations

import paramiko
import pytest

from deploy.errors import HostError
from deploy.hosts import gather_hosts, read_hosts_file, resolve_host, split_host

CONFIG = """
Host pi
    HostName raspberrypi.local
    User pi
    Port 2222
    IdentityFile ~/.ssh/id_pi

Host bastion
    HostName gw.example.org
    User ops

Host lab-*
    User lab
    ProxyJump bastion

Host *
    User fallback
"""


@pytest.fixture
def cfg():
    return paramiko.SSHConfig.from_text(CONFIG)


@pytest.mark.parametrize("text,expected", [
    ("pi@board", ("pi", "board", None)),
    ("pi@board:2222", ("pi", "board", 2222)),
    ("board:22", (None, "board", 22)),
    ("10.0.0.7", (None, "10.0.0.7", None)),
    ("pi@[fe80::1]:2200", ("pi", "fe80::1", 2200)),
])
def test_split_host(text, expected):
    assert split_host(text) == expected


@pytest.mark.parametrize("bad", ["", "pi@", "@host", "a b", "host:port", "x@y@z", "host:"])
def test_split_host_rejects(bad):
    with pytest.raises(HostError, match="user@host"):
        split_host(bad)


def test_config_alias_honours_hostname_user_port_identity(cfg, monkeypatch):
    monkeypatch.setenv("HOME", "/home/me")
    h = resolve_host("pi", cfg)
    assert (h.hostname, h.user, h.port) == ("raspberrypi.local", "pi", 2222)
    assert h.identity_files == ("/home/me/.ssh/id_pi",)
    assert h.proxy_jump == ()
    assert h.label == "pi@raspberrypi.local:2222"


def test_argument_wins_over_config(cfg):
    h = resolve_host("root@pi:22", cfg)
    assert (h.hostname, h.user, h.port) == ("raspberrypi.local", "root", 22)


def test_proxyjump_resolved_through_config(cfg):
    h = resolve_host("lab-3", cfg)
    assert h.user == "lab" and h.hostname == "lab-3"
    assert [(j.hostname, j.user, j.port) for j in h.proxy_jump] == [("gw.example.org", "ops", 22)]


def test_unknown_name_uses_wildcard_user(cfg):
    h = resolve_host("somewhere", cfg)
    assert (h.hostname, h.user, h.port) == ("somewhere", "fallback", 22)


def test_bad_port_in_config():
    cfg = paramiko.SSHConfig.from_text("Host x\n  Port abc\n")
    with pytest.raises(HostError, match="Port 'abc'"):
        resolve_host("x", cfg)


def test_folder_name_is_filesystem_safe(cfg):
    assert resolve_host("pi@10.0.0.7:2222", cfg).folder_name == "pi@10.0.0.7_2222"


def test_hosts_file(tmp_path):
    f = tmp_path / "hosts"
    f.write_text("# fleet\npi@a\n\n  pi@b:2222  # the second one\npi@a\n")
    assert read_hosts_file(f) == ["pi@a", "pi@b:2222", "pi@a"]
    assert gather_hosts(["pi@c", "pi@a"], str(f)) == ["pi@c", "pi@a", "pi@b:2222"]
    with pytest.raises(HostError, match="cannot read hosts file"):
        read_hosts_file(tmp_path / "missing")
    with pytest.raises(HostError, match="no host given"):
        gather_hosts([], None)


def test_deploy_tests_never_see_the_developers_ssh(isolated_ssh):
    """conftest's isolation: an empty HOME, no agent, edgenet's ssh files in the test's own folder."""
    import os
    from pathlib import Path

    assert not (Path.home() / ".ssh").exists() and str(Path.home()).startswith(str(isolated_ssh))
    assert "SSH_AUTH_SOCK" not in os.environ
    assert os.environ["EDGENET_SSH_CONFIG"] == str(isolated_ssh / "ssh_config")
    assert os.environ["EDGENET_KNOWN_HOSTS"] == str(isolated_ssh / "known_hosts")
