"""A WSGI app served on a loopback port from a background thread, stoppable and restartable.

The port is bound in the caller's thread before the serving thread starts, so a port that is
taken fails the start at once with PortUnavailable (werkzeug, left to bind it, would print a
line and exit its thread, leaving a caller that waits for it hanging).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# Each request line would otherwise go to the console of `hitl local up`.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
LISTEN_BACKLOG = 128


class PortUnavailable(OSError):
    """A server's port cannot be bound (taken, or not allowed); names the server and the port."""

    def __init__(self, server: str, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port} ({server}) cannot be bound: {reason}")
        self.server = server
        self.host = host
        self.port = port
        self.reason = reason


def listening_socket(server: str, host: str, port: int) -> socket.socket:
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


class BackgroundServer:
    """Serves `app` on host:port (0: a free port) in a daemon thread until `stop`."""

    def __init__(
        self,
        name: str,
        app: Any,
        host: str,
        port: int,
        request_handler: type[WSGIRequestHandler] | None = None,
    ) -> None:
        self.name = name
        listener = listening_socket(name, host, port)
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=request_handler, fd=listener.fileno()
            )
        finally:
            listener.close()  # the server serves a duplicate of it
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
