"""A WSGI app served on a loopback port from a background thread, stoppable and restartable."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

# Each request line would otherwise go to the console of `hitl local up`.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class BackgroundServer:
    """Serves `app` on host:port (0: a free port) in a daemon thread until `stop`."""

    def __init__(self, name: str, app: Any, host: str, port: int) -> None:
        self.name = name
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

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
