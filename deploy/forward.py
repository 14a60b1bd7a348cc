"""A local port forward over an open ssh connection, for the board's live view.

fabric's ``forward_local`` ends the whole forward, and fails the command it wraps, as soon as one
connection cannot be opened on the board (a browser that connects before the board's server is up)
or one tunnel errors (a browser that closes an endless MJPEG stream). A live view must survive both,
so here every accepted connection is its own best-effort pipe over paramiko's ``direct-tcpip``
channels, and a failed one only closes that browser connection.
"""

from __future__ import annotations

import select
import socket
import threading

import paramiko

from deploy.errors import ConnectError


class PortForward:
    def __init__(self, transport: paramiko.Transport, local_port: int, remote_port: int,
                 remote_host: str = "127.0.0.1"):
        self.transport, self.local_port = transport, local_port
        self.remote = (remote_host, remote_port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    def __enter__(self) -> "PortForward":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.local_port))
        except OSError as exc:
            listener.close()
            raise ConnectError(f"cannot forward the live view: 127.0.0.1:{self.local_port} here is busy "
                               f"({exc.strerror}); choose another with --local-port") from None
        listener.listen(8)
        listener.settimeout(0.2)
        self._listener = listener
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="edgenet-forward")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, peer = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            try:
                channel = self.transport.open_channel("direct-tcpip", self.remote, peer, timeout=10)
            except (paramiko.SSHException, OSError, EOFError):
                client.close()  # nothing listens on the board (yet): this browser retries
                continue
            self._spawn(self._pipe, client, channel)

    def _pipe(self, client: socket.socket, channel: paramiko.Channel) -> None:
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([client, channel], [], [], 0.5)
                for source, sink in ((client, channel), (channel, client)):
                    if source in readable:
                        data = source.recv(65536)
                        if not data:
                            return
                        sink.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the browser or the board closed its side
        finally:
            channel.close()
            client.close()
