"""A slow network link on loopback: a TCP relay whose upload direction is held to a byte rate.

Deploy tests put it between the workstation and the test sshd (the ssh config points the board's
name at the relay's port), so an upload takes seconds and a test can interrupt it midway. When the
client side closes (Ctrl-C, kill -9), the relay closes the server side, as a real network would.
"""

from __future__ import annotations

import socket
import threading
import time


class SlowLink:
    def __init__(self, target_port: int, upload_bytes_per_s: float, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.rate = upload_bytes_per_s
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, self.rate), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: float | None) -> None:
        start, sent = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                data = source.recv(16384 if rate else 65536)
                if not data:
                    break
                sink.sendall(data)
                if rate:
                    sent += len(data)
                    ahead = sent / rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:  # one side gone: the other goes too
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self) -> "SlowLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
