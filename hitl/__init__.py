"""The `hitl` command line and the local stack (the embedded default)."""
