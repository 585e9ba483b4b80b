"""BackgroundServer: a taken port fails at once, naming the server and the port; kept-alive connections."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session
from flask import Flask, request

from hitl.local import servers
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


def test_a_client_keeps_its_connection_across_requests() -> None:
    with BackgroundServer("hello", hello_app(), "127.0.0.1", 0) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            answers, sockets = [], []
            for _ in range(3):
                connection.request("GET", "/")
                answers.append(connection.getresponse().read())
                sockets.append(connection.sock)
        finally:
            connection.close()

    assert answers == [b"hello"] * 3
    assert sockets[0] is not None
    assert sockets[1] is sockets[0] and sockets[2] is sockets[0]


def test_many_clients_each_keep_their_connection() -> None:
    """cheroot by itself keeps only 10 idle connections open and closes the others after their answer."""
    with BackgroundServer("hello", hello_app(), "127.0.0.1", 0) as server:
        clients = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(40)]
        try:
            first_sockets = []
            for client in clients:
                client.request("GET", "/")
                assert client.getresponse().read() == b"hello"
                first_sockets.append(client.sock)
            kept = []
            for client, first in zip(clients, first_sockets, strict=True):
                client.request("GET", "/")
                assert client.getresponse().read() == b"hello"
                kept.append(first is not None and client.sock is first)
        finally:
            for client in clients:
                client.close()

    assert all(kept), f"{kept.count(False)} of {len(kept)} connections were closed"


def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_on_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stack left idle past the idle limit: boto3's pool finds its connection closed by the
    server and opens a new one; the call neither fails nor reaches the server twice."""
    monkeypatch.setattr(servers, "IDLE_CONNECTION_SECONDS", 0.5)
    client_ports = []
    app = Flask(__name__)

    @app.post("/")
    def answer() -> str:
        client_ports.append(request.environ["REMOTE_PORT"])
        return "ok"

    with BackgroundServer("hello", app, "127.0.0.1", 0) as server:
        session = URLLib3Session()  # botocore's transport, without the retries a client adds
        call = AWSRequest("POST", f"{server.url}/", data=b"x").prepare()
        try:
            statuses = [session.send(call).status_code]
            time.sleep(2)  # well past the limit: cheroot looks for expired connections every 0.5 s
            statuses.append(session.send(call).status_code)
        finally:
            session.close()

    assert statuses == [200, 200]
    assert len(client_ports) == 2
    assert client_ports[0] != client_ports[1], "the server did not close the idle connection"
