"""The review-complete function: finished A2I human loops into the rolling training manifest."""
