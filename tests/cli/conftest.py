"""CLI tests reuse the REFERENCE shapes of the core's tests."""

from core.conftest import a2i_output, reference_manifest_line  # noqa: F401 (fixtures)


def gold_line(source_ref: str, width: int, height: int, label: str, box: dict[str, int]) -> dict:
    """A gold manifest line with one known box, as a team writes it (before `hitl review gold predict`)."""
    return {
        "source-ref": source_ref,
        "bounding-box": {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [{"class_id": 0, **box}],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"0": label},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-01-01T00:00:00.000Z",
            "job-name": "gold",
        },
    }
