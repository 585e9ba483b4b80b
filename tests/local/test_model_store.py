"""The model store fetches, verifies and caches pinned files, and refuses anything else."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hitl.commands.local_model import fetch_model_command
from hitl.local.model_store import (
    DEFAULT_CACHE_DIR,
    SSD_MOBILENET_V2_COCO,
    ModelSource,
    ModelStoreError,
    PinnedFile,
    cached_model,
    fetch_model,
    npm_pack,
)

PROJECT_CACHE = Path(__file__).resolve().parents[2] / DEFAULT_CACHE_DIR
WEIGHTS = b"\x00fake weights\xff" * 64
LABELS = b"0  person\n2  car\n"


def _pin(member: str, data: bytes) -> PinnedFile:
    return PinnedFile(member=member, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


FAKE_SOURCE = ModelSource(
    package="@example/fake-model@1.0.0",
    archive="package/dist/plugin.zip",
    model=_pin("fs/fake.tflite", WEIGHTS),
    labels=_pin("fs/labels.txt", LABELS),
)


def _tarball(path: Path, members: dict[str, bytes], archive: str = "package/dist/plugin.zip") -> Path:
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    with tarfile.open(path, "w:gz") as package:
        info = tarfile.TarInfo(archive)
        info.size = len(bundle.getvalue())
        package.addfile(info, io.BytesIO(bundle.getvalue()))
    return path


class FakePack:
    """Stands in for npm pack: writes a prepared tarball and counts calls."""

    def __init__(self, members: dict[str, bytes], archive: str = "package/dist/plugin.zip") -> None:
        self.members = members
        self.archive = archive
        self.calls: list[str] = []

    def __call__(self, package: str, destination: Path) -> Path:
        self.calls.append(package)
        return _tarball(destination / "fake-model-1.0.0.tgz", self.members, self.archive)


def _fetch(cache: Path, pack: FakePack, messages: list[str] | None = None):
    sink = messages if messages is not None else []
    return fetch_model(cache, source=FAKE_SOURCE, fetch_package=pack, progress=sink.append)


def _never_called(package: str, destination: Path) -> Path:
    raise AssertionError(f"fetched {package} although the cache was valid")


def test_an_empty_cache_is_filled_with_the_verified_files(tmp_path: Path) -> None:
    pack = FakePack({"fs/fake.tflite": WEIGHTS, "fs/labels.txt": LABELS, "fs/other.bin": b"x"})
    messages: list[str] = []

    files = _fetch(tmp_path / "cache", pack, messages)

    assert pack.calls == ["@example/fake-model@1.0.0"]
    assert files.model_path == tmp_path / "cache" / "fake.tflite"
    assert files.model_path.read_bytes() == WEIGHTS
    assert files.labels_path.read_bytes() == LABELS
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fake.tflite", "labels.txt"]
    assert any("fetching @example/fake-model@1.0.0" in m for m in messages)
    assert sum("verified and cached" in m for m in messages) == 2


def test_a_verified_cache_is_reused_without_fetching(tmp_path: Path) -> None:
    _fetch(tmp_path, FakePack({"fs/fake.tflite": WEIGHTS, "fs/labels.txt": LABELS}))
    messages: list[str] = []

    files = fetch_model(tmp_path, source=FAKE_SOURCE, fetch_package=_never_called, progress=messages.append)

    assert files.model_path.read_bytes() == WEIGHTS
    assert sum("verified cached" in m for m in messages) == 2


def test_a_corrupt_cached_file_is_refused_and_fetched_again(tmp_path: Path) -> None:
    pack = FakePack({"fs/fake.tflite": WEIGHTS, "fs/labels.txt": LABELS})
    files = _fetch(tmp_path, pack)
    files.model_path.write_bytes(WEIGHTS[:-1] + b"!")
    labels_before = files.labels_path.stat().st_ino
    messages: list[str] = []

    _fetch(tmp_path, pack, messages)

    assert files.model_path.read_bytes() == WEIGHTS
    assert files.labels_path.stat().st_ino == labels_before, "a valid file is not rewritten"
    assert len(pack.calls) == 2
    refusal = next(m for m in messages if m.startswith("refusing cached"))
    assert "fake.tflite" in refusal
    assert f"expected {FAKE_SOURCE.model.sha256}" in refusal


def test_a_fetched_file_that_does_not_match_its_pin_is_never_cached(tmp_path: Path) -> None:
    pack = FakePack({"fs/fake.tflite": WEIGHTS + b"tampered", "fs/labels.txt": LABELS})

    with pytest.raises(ModelStoreError, match=r"fs/fake\.tflite is not the pinned file .*expected") as err:
        _fetch(tmp_path / "cache", pack)

    assert f"{len(WEIGHTS) + 8:,} bytes" in str(err.value)
    assert not (tmp_path / "cache" / "fake.tflite").exists()


def test_a_package_without_the_archive_or_member_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match=r"has no package/dist/plugin\.zip"):
        _fetch(tmp_path, FakePack({"fs/fake.tflite": WEIGHTS}, archive="package/other.zip"))
    with pytest.raises(
        ModelStoreError, match=r"plugin\.zip in fake-model-1\.0\.0\.tgz has no fs/labels\.txt"
    ):
        _fetch(tmp_path, FakePack({"fs/fake.tflite": WEIGHTS}))


def test_a_damaged_tarball_is_reported(tmp_path: Path) -> None:
    def damaged(package: str, destination: Path) -> Path:
        path = destination / "fake-model-1.0.0.tgz"
        path.write_bytes(b"not a tarball")
        return path

    with pytest.raises(ModelStoreError, match=r"fake-model-1\.0\.0\.tgz cannot be unpacked"):
        fetch_model(tmp_path, source=FAKE_SOURCE, fetch_package=damaged)


def test_cached_model_checks_the_pins_and_never_fetches(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match=r"fake\.tflite: missing.*run `hitl local fetch-model`"):
        cached_model(tmp_path, FAKE_SOURCE)

    files = _fetch(tmp_path, FakePack({"fs/fake.tflite": WEIGHTS, "fs/labels.txt": LABELS}))
    assert cached_model(tmp_path, FAKE_SOURCE) == files

    files.labels_path.write_bytes(LABELS.replace(b"car", b"cat"))
    with pytest.raises(ModelStoreError, match=r"labels\.txt: sha256 [0-9a-f]{64}, expected"):
        cached_model(tmp_path, FAKE_SOURCE)


def _fake_npm(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n" + script)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)


def test_npm_pack_runs_npm_and_returns_the_tarball_it_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path / "prepared.tgz", {"fs/fake.tflite": WEIGHTS})
    _fake_npm(
        tmp_path / "bin",
        f'echo "$@" > {tmp_path}/args\n'
        f'/bin/cp {tarball} "$5/example-fake-model-1.0.0.tgz"\n'
        'echo \'[{"filename": "example-fake-model-1.0.0.tgz"}]\'\n',
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    destination = tmp_path / "out"
    destination.mkdir()

    packed = npm_pack("@example/fake-model@1.0.0", destination)

    assert packed == destination / "example-fake-model-1.0.0.tgz"
    assert packed.read_bytes() == tarball.read_bytes()
    assert (tmp_path / "args").read_text().split() == [
        "pack",
        "@example/fake-model@1.0.0",
        "--json",
        "--pack-destination",
        str(destination),
    ]


def test_npm_pack_failures_are_reported_with_npm_s_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ModelStoreError, match="npm is not on PATH"):
        npm_pack("@example/fake-model@1.0.0", tmp_path)

    _fake_npm(tmp_path / "bin", "echo 'npm error 404 Not Found' >&2\nexit 1\n")
    with pytest.raises(ModelStoreError, match=r"failed \(exit 1\): npm error 404 Not Found"):
        npm_pack("@example/fake-model@1.0.0", tmp_path)


def test_npm_pack_output_without_a_tarball_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_npm(tmp_path / "bin", f"echo '{json.dumps([{'id': 'x'}])}'\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ModelStoreError, match="did not report the tarball"):
        npm_pack("@example/fake-model@1.0.0", tmp_path)


def test_the_real_model_is_fetched_once_then_reused() -> None:
    files = fetch_model(PROJECT_CACHE)

    again = fetch_model(PROJECT_CACHE, fetch_package=_never_called)

    assert again == files
    digest = hashlib.sha256(files.model_path.read_bytes()).hexdigest()
    assert (
        digest
        == SSD_MOBILENET_V2_COCO.model.sha256
        == ("7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd")
    )
    assert files.model_path.stat().st_size == 6_175_408
    assert "16  cat" in files.labels_path.read_text().splitlines()


def test_the_command_reports_a_valid_cache_and_fails_clearly_without_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch_model(PROJECT_CACHE)
    runner = CliRunner()

    reused = runner.invoke(fetch_model_command, ["--cache-dir", str(PROJECT_CACHE)])
    assert reused.exit_code == 0, reused.output
    assert f"model: {PROJECT_CACHE / 'mobilenet_ssd_v2_coco_quant_postprocess.tflite'}" in reused.stdout
    assert "verified cached" in reused.stderr

    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    failed = runner.invoke(fetch_model_command, ["--cache-dir", str(tmp_path / "cache")])
    assert failed.exit_code == 1
    assert "Error: npm is not on PATH" in failed.stderr
