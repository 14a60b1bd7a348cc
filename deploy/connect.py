"""Opening an ssh connection to a board, with ssh's host-key rules, and the small remote API the
deploy steps use (run / put / get), so tests can hand them a fake with the same methods.

Host keys: checked against known_hosts; an unknown host is refused with the command that trusts it,
unless ``accept_new`` (ssh's StrictHostKeyChecking=accept-new: the key is added and saved); a changed
key is always refused. Authentication is by key or agent only: there is no password option.
"""

from __future__ import annotations


import logging
import os
import shlex
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko

from deploy.errors import ConnectError, HostKeyError, Interrupted, RemoteCommandError
from deploy.hosts import DEFAULT_KNOWN_HOSTS, HostSpec


# paramiko logs transport failures itself ("Exception (client): ..."); the errors below say it once.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class ConnectOptions:
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    accept_new: bool = False
    timeout: float = 15.0

    def __post_init__(self):
        if not self.timeout > 0:
            raise ConnectError(f"connect timeout must be positive, got {self.timeout}")

    @property
    def known_hosts_path(self) -> Path:
        return Path(os.path.expanduser(self.known_hosts))


def keyscan_command(spec: HostSpec, known_hosts: Path) -> str:
    port = f"-p {spec.port} " if spec.port != 22 else ""
    return f"ssh-keyscan {port}{shlex.quote(spec.hostname)} >> {shlex.quote(str(known_hosts))}"


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, spec: HostSpec, known_hosts: Path):
        self.spec, self.known_hosts = spec, known_hosts

    def missing_host_key(self, client, hostname, key):
        raise HostKeyError(
            f"unknown host key for {self.spec.label} ({key.get_name()}): check it, then trust it with "
            f"`{keyscan_command(self.spec, self.known_hosts)}` or pass --accept-new")


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Add an unknown key and append it to known_hosts (never replaces a known one: paramiko raises
    BadHostKeyException for a changed key before any policy is asked)."""

    def __init__(self, known_hosts: Path):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.known_hosts, "a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        print(f"edgenet: added host key for {hostname} ({key.get_name()}) to {self.known_hosts}", file=sys.stderr)


@dataclass
class Result:
    stdout: str
    stderr: str
    exited: int


def command_line(command: "str | Sequence[str]", cwd: str | None = None) -> str:
    """The shell line for ``command``: an argv list is quoted element by element (the only way a
    path or a user's value reaches the board's shell); a str is a fixed script of ours."""
    line = command if isinstance(command, str) else " ".join(shlex.quote(str(a)) for a in command)
    return f"cd {shlex.quote(cwd)} && exec {line}" if cwd else line


class Remote:
    """A connected board: ``run`` commands (argv lists, quoted here), ``put``/``get`` files over SFTP."""

    def __init__(self, conn, spec: HostSpec):
        self.conn, self.spec = conn, spec
        self._sftp = None

    def run(self, command: "str | Sequence[str]", *, check: bool = True, stream: bool = False,
            timeout: float | None = None, what: str | None = None, cwd: str | None = None) -> Result:
        kwargs = dict(warn=True, hide=not stream, in_stream=False, timeout=timeout)
        try:
            r = self.conn.run(command_line(command, cwd), **kwargs)
        except Exception as exc:  # invoke's CommandTimedOut and ssh failures
            if type(exc).__name__ == "CommandTimedOut":
                raise RemoteCommandError(f"{self.spec.alias}: {what or 'command'} timed out after {timeout} s") from None
            raise ConnectError(f"{self.spec.alias}: connection lost during {what or 'a command'}: {exc}") from None
        result = Result(r.stdout, r.stderr, r.exited)
        if check and r.exited != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise RemoteCommandError(f"{self.spec.alias}: {what or 'command'} failed (exit {r.exited}): "
                                     + " | ".join(tail))
        return result

    def open_channel(self, command: "str | Sequence[str]", cwd: str | None = None) -> paramiko.Channel:
        """A session channel running ``command``, for a conversation over its stdin/stdout."""
        self.conn.open()
        try:
            channel = self.conn.transport.open_session()
            channel.exec_command(command_line(command, cwd))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectError(f"{self.spec.alias}: cannot start a command: {exc or type(exc).__name__}") from None
        return channel

    def forward(self, local_port: int, remote_port: int):
        """Context manager: this machine's 127.0.0.1:local_port to the board's 127.0.0.1:remote_port."""
        from deploy.forward import PortForward

        self.conn.open()
        return PortForward(self.conn.transport, local_port, remote_port)

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.conn.sftp()
        return self._sftp

    def put(self, local: str | os.PathLike, remote: str, cancel: threading.Event | None = None) -> None:
        """Upload ``local`` to ``remote``; a set ``cancel`` stops it between 32 KB blocks (Interrupted)."""
        def progress(sent, total):
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"{self.spec.alias}: upload of {Path(local).name} interrupted")

        try:
            self.sftp.put(str(local), remote, callback=progress if cancel is not None else None)
        except Interrupted:
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectError(f"{self.spec.alias}: upload of {Path(local).name} to {remote} failed: "
                               f"{exc or type(exc).__name__}") from None

    def write_text(self, remote: str, text: str) -> None:
        """Write ``text`` to a file on the board (release.json, the unit, requirements, a .pth)."""
        try:
            with self.sftp.open(remote, "w") as f:
                f.write(text)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectError(f"{self.spec.alias}: writing {remote} failed: {exc or type(exc).__name__}") from None

    def get(self, remote: str, local: str | os.PathLike) -> None:
        try:
            self.sftp.get(remote, str(local))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectError(f"{self.spec.alias}: download of {remote} failed: {exc or type(exc).__name__}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _connection(spec: HostSpec, options: ConnectOptions, gateway=None):
    from fabric import Config, Connection

    # An explicit empty SSHConfig: everything was already resolved in hosts.py, and fabric must not
    # re-read ~/.ssh/config behind our back (tests point the code at their own config).
    config = Config(ssh_config=paramiko.SSHConfig())
    connect_kwargs = {"allow_agent": True, "look_for_keys": True, "banner_timeout": options.timeout,
                      "auth_timeout": options.timeout}
    if spec.identity_files:
        connect_kwargs["key_filename"] = [f for f in spec.identity_files if os.path.exists(f)] or None
    conn = Connection(spec.hostname, user=spec.user, port=spec.port, config=config,
                      connect_timeout=max(1, int(options.timeout)), connect_kwargs=connect_kwargs,
                      gateway=gateway if gateway is not None else False)
    client = conn.client
    known = options.known_hosts_path
    if known.is_file():
        client.load_host_keys(str(known))
    client.set_missing_host_key_policy(_AcceptNew(known) if options.accept_new else _RefuseUnknown(spec, known))
    return conn


def connect(spec: HostSpec, options: ConnectOptions = ConnectOptions()) -> Remote:
    """Open a connection (through the ProxyJump hops, if any) and return a Remote."""
    gateway = None
    for hop in spec.proxy_jump:
        gateway = _connection(hop, options, gateway)
    conn = _connection(spec, options, gateway)
    where = f"{spec.hostname}:{spec.port}"
    try:
        conn.open()
    except HostKeyError:
        raise
    except paramiko.BadHostKeyException as exc:
        name = f"[{spec.hostname}]:{spec.port}" if spec.port != 22 else spec.hostname
        raise HostKeyError(
            f"host key for {spec.label} CHANGED ({exc.key.get_name()}): refusing to connect (possible "
            f"man-in-the-middle); if the board was reinstalled, remove the old key with "
            f"`ssh-keygen -R {shlex.quote(name)} -f {shlex.quote(str(options.known_hosts_path))}`") from None
    except paramiko.AuthenticationException:
        raise ConnectError(f"authentication failed for {spec.label}: install your public key on the board "
                           f"(ssh-copy-id -p {spec.port} {spec.user}@{spec.hostname}) or load it into ssh-agent") from None
    except (socket.timeout, TimeoutError):
        raise ConnectError(f"timed out connecting to {where} after {options.timeout:g} s: is the board on and reachable?") from None
    except socket.gaierror:
        raise ConnectError(f"unknown host name {spec.hostname!r}: check the name or its HostName in ~/.ssh/config") from None
    except paramiko.ssh_exception.NoValidConnectionsError:
        raise ConnectError(f"cannot reach {where}: connection refused (is sshd running, is the port right?)") from None
    except paramiko.SSHException as exc:
        # paramiko sometimes reports a failed banner read as "No existing session": a transport
        # that never received the server's version string never got an ssh greeting.
        transport = conn.client.get_transport()
        no_banner = transport is not None and not getattr(transport, "remote_version", "")
        if "banner" in str(exc).lower() or no_banner:  # TCP connected but no ssh greeting within the timeout
            raise ConnectError(f"timed out waiting for the ssh banner of {where} after {options.timeout:g} s: "
                               "is it an ssh server, and is the board overloaded?") from None
        raise ConnectError(f"cannot connect to {where}: {exc or type(exc).__name__}") from None
    except (OSError, EOFError) as exc:
        raise ConnectError(f"cannot connect to {where}: {exc or type(exc).__name__}") from None
    return Remote(conn, spec)
