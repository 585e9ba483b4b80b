"""Sub-commands of `hitl`, one module per group."""
