"""Where the static review app lives: `review_app/` at the project root, one copy of its files.

The local A2I review page serves its editor and styles from there, the local built-in service
serves the whole app from there, and the CDK stack uploads the same folder to CloudFront.
"""

from __future__ import annotations

from pathlib import Path

import hitl

REVIEW_APP_DIR = Path(hitl.__file__).resolve().parent.parent / "review_app"
