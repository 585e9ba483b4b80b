"""axe-core (the project's pinned npm dev dependency, loaded from node_modules, offline) run on a page
as it is now: its serious and critical findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page as it is now: every rule axe runs by default,
    plus the experimental label-content-name-mismatch the issue found on the box list.
    """
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => { const r = await axe.run(document,"
        " {rules: {'label-content-name-mismatch': {enabled: true}}});"
        " return {violations: r.violations, passes: r.passes.map(p => p.id)}; }"
    )
    assert "color-contrast" in result["passes"], "axe ran its checks"
    found = result["violations"]
    return [
        {"rule": v["id"], "impact": v["impact"], "where": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in BLOCKING
    ]
