"""Host arguments, ~/.ssh/config resolution and hosts files (pure, no network)."""

from __future__ import annotations

import paramiko
import pytest

from deploy.errors import HostError
from deploy.hosts import gather_hosts, load_ssh_config, read_hosts_file, resolve_host, split_host

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


# ---- OpenSSH's own resolution: ssh -G -------------------------------------------------------------

needs_ssh = pytest.mark.skipif(__import__("shutil").which("ssh") is None, reason="no OpenSSH client (ssh) here")


@needs_ssh
def test_ssh_g_resolves_like_the_paramiko_reading_of_a_plain_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", "/home/me")
    path = tmp_path / "config"
    path.write_text(CONFIG)
    h = resolve_host("pi", str(path))
    assert (h.hostname, h.user, h.port, h.identity_files) == ("raspberrypi.local", "pi", 2222, ("/home/me/.ssh/id_pi",))
    h = resolve_host("root@pi:22", str(path))  # the argument wins, as ssh's -l and -p do
    assert (h.hostname, h.user, h.port) == ("raspberrypi.local", "root", 22)
    h = resolve_host("lab-3", str(path))
    assert h.user == "lab" and [(j.hostname, j.user, j.port) for j in h.proxy_jump] == [("gw.example.org", "ops", 22)]
    h = resolve_host("somewhere", str(path))
    assert (h.hostname, h.user, h.port, h.identity_files) == ("somewhere", "fallback", 22, ())  # ssh's defaults: not ours


@needs_ssh
def test_ssh_g_sees_include_and_match_which_paramiko_does_not(tmp_path):
    included = tmp_path / "conf.d" / "boards.conf"
    included.parent.mkdir()
    included.write_text("Host inc-board\n  HostName 10.1.2.3\n  Port 2201\n")
    path = tmp_path / "config"
    path.write_text(f"Include {included.parent}/*.conf\n\n"
                    "Match originalhost matched-board\n  HostName 10.1.2.4\n  Port 2202\n\n"
                    "Match host 10.1.2.*\n  User bob\n  IdentityFile /keys/%r-%h\n")
    a, b = resolve_host("inc-board", str(path)), resolve_host("matched-board", str(path))
    assert (a.hostname, a.port, a.user, a.identity_files) == ("10.1.2.3", 2201, "bob", ("/keys/bob-10.1.2.3",))
    assert (b.hostname, b.port, b.user) == ("10.1.2.4", 2202, "bob")
    assert resolve_host("inc-board", load_ssh_config(path)).hostname == "inc-board"  # paramiko #1609


@needs_ssh
def test_ssh_g_errors_and_option_like_hosts_are_one_line(tmp_path):
    path = tmp_path / "config"
    path.write_text("Host x\n  NoSuchOption yes\n")
    with pytest.raises(HostError, match="ssh cannot resolve host 'x' with its config: .*line 2: Bad configuration option"):
        resolve_host("x", str(path))
    for bad in ("-oProxyCommand=touch pwned", "pi@-oProxyCommand=x"):
        with pytest.raises(HostError, match="expected user@host"):
            resolve_host(bad, str(path))
    assert not (tmp_path / "pwned").exists()
    missing = resolve_host("pi@board:2200", str(tmp_path / "no-such-config"))  # a missing file: empty config
    assert (missing.hostname, missing.user, missing.port) == ("board", "pi", 2200)
