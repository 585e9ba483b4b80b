"""CLI tests reuse the REFERENCE shapes of the core's tests."""

from core.conftest import a2i_output, reference_manifest_line  # noqa: F401 (fixtures)
