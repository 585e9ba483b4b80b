"""The README stays a front page, and the site's strict build fails on a broken link or anchor."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from docs.doc_blocks import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
README_MAX_BYTES = 12 * 1024
BUILD = [str(PROJECT_ROOT / ".venv" / "bin" / "mkdocs"), "build", "--strict"]  # as `make docs` runs it


def test_readme_is_short_and_links_to_the_deploy_steps() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= README_MAX_BYTES
    assert "](docs/deploying.md)" in text
    assert "make demo" in text and "make test" in text


def heading_anchors(page: Path) -> set[str]:
    """The anchors MkDocs gives a page's headings (lower case, punctuation dropped, spaces to hyphens)."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h).strip().lower()) for h in headings}


def test_every_readme_link_reaches_a_file_and_heading() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert "docs/deploying.md" in local
    broken = []
    for link in local:
        path, _, anchor = link.partition("#")
        target = PROJECT_ROOT / path
        if not target.exists() or (anchor and anchor not in heading_anchors(target)):
            broken.append(link)
    assert not broken, f"README links that lead nowhere: {broken}"


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """The site's sources (config, pages, and the files its snippets include) in a folder of their own."""
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", tmp_path)
    shutil.copy(README, tmp_path)
    shutil.copytree(PROJECT_ROOT / "docs", tmp_path / "docs")
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(PROJECT_ROOT / "benchmarks" / "RESULTS.md", tmp_path / "benchmarks")
    return tmp_path


def build(folder: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*BUILD, "--site-dir", str(folder / "site")],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_broken_link_or_anchor_fails_the_build(site_copy: Path) -> None:
    assert build(site_copy).returncode == 0  # the pages as they are build
    with (site_copy / "docs" / "cli.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [a step](deploying.md#no-such-step) and [a page](no-such-page.md).\n")
    result = build(site_copy)
    assert result.returncode != 0
    assert "does not contain an anchor '#no-such-step'" in result.stderr
    assert "'no-such-page.md', but the target is not found" in result.stderr
