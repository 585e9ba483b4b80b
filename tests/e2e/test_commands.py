"""`hitl local up` and `hitl local demo` as a user runs them: they end cleanly, leaving no process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from e2e.e2e_helpers import FREE_PORTS, MODEL_DIR, hitl
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import ENDPOINTS_FILE, ENV_FILE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def descendants(pid: int) -> set[int]:
    """Processes whose parent chain leads to `pid` (read from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def test_up_serves_until_ctrl_c_then_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = subprocess.Popen(
        hitl("local", "up", "--state-dir", str(state), "--model-dir", str(MODEL_DIR), *FREE_PORTS),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As at a terminal: a test run started in the background inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 90  # five worker processes start on a shared, busy machine
        while not (state / ENDPOINTS_FILE).exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.2)
        endpoints = json.loads((state / ENDPOINTS_FILE).read_text())
        assert f"export AWS_ENDPOINT_URL={endpoints['endpoints']['s3']}" in (state / ENV_FILE).read_text()
        workers = descendants(process.pid)
        assert len(workers) >= 2

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:  # the test failed: stop the stack as SIGTERM does, in order
            process.terminate()
            process.communicate(timeout=60)

    assert process.returncode == 0, output
    assert "Local stack stopped." in output
    assert not alive(workers)
    assert not (state / ENDPOINTS_FILE).exists()


@pytest.mark.parametrize(("port_option", "server"), [("--aws-port", "aws"), ("--review-port", "review-page")])
def test_up_on_a_taken_port_fails_naming_port_and_option_and_leaves_nothing(
    tmp_path: Path, port_option: str, server: str
) -> None:
    state = tmp_path / "state"
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        taken = other_program.getsockname()[1]
        ports = [*FREE_PORTS]
        ports[ports.index(port_option) + 1] = str(taken)
        process = subprocess.Popen(
            hitl("local", "up", "--state-dir", str(state), "--model-dir", str(MODEL_DIR), *ports),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output, _ = process.communicate(timeout=60)

    assert process.returncode == 1, output
    assert f"port {taken} on 127.0.0.1 for the {server} server is not available" in output
    assert f"choose another with {port_option}" in output
    assert not alive(descendants(process.pid))
    assert not (state / ENDPOINTS_FILE).exists()


@pytest.mark.parametrize(
    ("backend", "started", "answered"),
    [
        ("builtin", "Review tasks started: 1", "signed in with the local stand-in"),
        ("a2i", "Human loops started: 1", "workerId 'simulated-reviewer'"),
    ],
)
def test_demo_runs_unattended_and_summarises(
    tmp_path: Path, backend: str, started: str, answered: str
) -> None:
    photos = tmp_path / "photos"
    copy_sample_photos(photos)
    for photo in photos.iterdir():
        if photo.name not in ("chelsea.png", "rocket.jpg"):
            photo.unlink()
    result = subprocess.run(
        hitl(
            "local",
            "demo",
            "--images",
            str(photos),
            "--state-dir",
            str(tmp_path / "state"),
            "--model-dir",
            str(MODEL_DIR),
            "--timeout",
            "50",
            "--review-backend",
            backend,
        ),
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "chelsea.png" in out and "ACCEPTED" in out and "REVIEW" in out
    assert started in out
    assert "Answers received: 1 (simulated reviewer" in out and answered in out
    assert "1 line(s), Ground Truth object-detection format: all valid" in out
    assert "Dead-letter queues: empty" in out
    report = (tmp_path / "state" / "demo" / "quality-report.html").read_text()
    assert f"Quality report: {tmp_path / 'state' / 'demo' / 'quality-report.html'}" in out
    assert "  Errors let through: " in out and "  Drift: " in out and "  Advisor: " in out
    assert "from 2 scored image(s), 1 answered by a person" in report
    assert "Local stack stopped; nothing left running." in out
