"""BackgroundServer: a taken port fails at once, naming the server and the port."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from flask import Flask

from hitl.local.servers import BackgroundServer, PortUnavailable


def hello_app() -> Flask:
    app = Flask(__name__)
    app.get("/")(lambda: "hello")
    return app


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_raises_port_unavailable_naming_server_and_port(taken_port: int) -> None:
    with pytest.raises(PortUnavailable) as raised:
        BackgroundServer("review-page", hello_app(), "127.0.0.1", taken_port)

    assert (raised.value.server, raised.value.port) == ("review-page", taken_port)
    assert str(taken_port) in str(raised.value)


def test_a_free_port_serves_and_is_free_again_after_stop() -> None:
    server = BackgroundServer("hello", hello_app(), "127.0.0.1", 0)
    port = server.port
    assert urllib.request.urlopen(f"{server.url}/", timeout=5).read() == b"hello"
    server.stop()

    again = BackgroundServer("hello", hello_app(), "127.0.0.1", port)
    with again:
        assert again.url == f"http://127.0.0.1:{port}"
        assert urllib.request.urlopen(f"{again.url}/", timeout=5).read() == b"hello"
