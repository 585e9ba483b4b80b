"""WSGI apps served on loopback ports by cheroot: HTTP/1.1 keep-alive and a fixed pool of threads.

Keep-alive matters here: a boto3 client reuses its connection, so a call to the local stand-ins
costs no connect and no new server thread (werkzeug's development server closes every
connection). The port is bound in the caller's thread before serving starts, so a port that is
taken fails the start at once with PortUnavailable.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from cheroot import wsgi

LISTEN_BACKLOG = 128
DEFAULT_THREADS = 16
"""Requests served at once; a request that waits (an SQS long poll) holds its thread meanwhile."""
IDLE_CONNECTION_SECONDS = 60
"""How long a kept-alive connection may sit idle; longer than a client's longest long poll (20 s)."""
KEPT_ALIVE_CONNECTIONS = 512
"""Idle connections kept open at once (cheroot keeps 10 and closes the rest after their answer,
so with more clients than that, most calls would pay for a new connection)."""


class PortUnavailable(OSError):
    """A server's port cannot be bound (taken, or not allowed); names the server and the port."""

    def __init__(self, server: str, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port} ({server}) cannot be bound: {reason}")
        self.server = server
        self.host = host
        self.port = port
        self.reason = reason


def listening_socket(server: str, host: str, port: int) -> socket.socket:
    """A socket bound to host:port (0: a free port) and listening; PortUnavailable if it cannot be."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, protocol)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
    except OSError as err:
        listener.close()
        raise PortUnavailable(server, host, port, err.strerror or str(err)) from None
    return listener


class ListeningServer(wsgi.Server):
    """cheroot's WSGI server on a socket that is already bound and listening (`listening_socket`,
    or one handed down to a child process); `prepare()` then `serve()`, `stop()` from any thread."""

    keep_alive_conn_limit = KEPT_ALIVE_CONNECTIONS

    def __init__(self, app: Any, listener: socket.socket, threads: int = DEFAULT_THREADS) -> None:
        super().__init__(
            listener.getsockname()[:2],
            app,
            numthreads=threads,
            request_queue_size=LISTEN_BACKLOG,
            timeout=IDLE_CONNECTION_SECONDS,
        )
        self._listener = listener

    def bind(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """Called by `prepare()` to create the socket: use the one bound already."""
        self._listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket = self._listener
        return self._listener


class BackgroundServer:
    """Serves `app` on host:port (0: a free port) from a daemon thread until `stop`."""

    def __init__(self, name: str, app: Any, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
        self.name = name
        listener = listening_socket(name, host, port)
        self._server = ListeningServer(app, listener, threads)
        try:
            self._server.prepare()
        except BaseException:
            listener.close()
            raise
        self._thread = threading.Thread(target=self._server.serve, name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.bind_addr[0]}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=5)
