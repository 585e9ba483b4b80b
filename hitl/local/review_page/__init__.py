"""The local review page: the A2I worker portal's task list and bounding-box task, on loopback."""

from hitl.local.review_page.app import create_review_app

__all__ = ["create_review_app"]
