"""axe-core (the project's pinned npm dev dependency, loaded from node_modules, offline) finds no serious
or critical accessibility violation on the task list or the task page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_driver import AXE, violations
from editor_driver import open_task
from playwright.sync_api import Page

from hitl_core.detections import Box, Detection, ImageSize

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CAT = Detection("cat", 0.64, Box(240, 150, 720, 720))


@pytest.fixture
def axe_page(new_page: Callable[..., Page]) -> Page:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `npm ci` installs the pinned dev dependencies")
    # The page's Content-Security-Policy allows only its own scripts; axe is added by the test.
    return new_page(bypass_csp=True)


def test_the_task_list_has_no_serious_accessibility_violation(review_stack: Any, axe_page: Page) -> None:
    review_stack.start_loop("chelsea", ImageSize(1353, 900), [CAT])
    done = review_stack.start_loop("coffee", ImageSize(600, 400), [])
    review_stack.a2i.stop_human_loop(HumanLoopName=done)
    axe_page.goto(review_stack.url)
    assert violations(axe_page) == []


def test_the_task_page_has_no_serious_accessibility_violation(review_stack: Any, axe_page: Page) -> None:
    cat = review_stack.start_loop("chelsea", ImageSize(1353, 900), [CAT])
    axe_page.goto(f"{review_stack.url}/tasks/{cat}")
    open_task(axe_page)
    # A selected box, draw mode on (a pressed button) and a box hidden: the states a reviewer sees.
    axe_page.get_by_role("button", name="Box 1 · cat").click()
    axe_page.get_by_role("button", name="Draw box").click()
    axe_page.get_by_role("button", name="Hide box 1").click()
    assert violations(axe_page) == []
    axe_page.get_by_role("application", name="Image with boxes").focus()
    axe_page.keyboard.press("l")
    assert violations(axe_page) == [], "the label picker"
