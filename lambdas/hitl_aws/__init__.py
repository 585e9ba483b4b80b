"""Thin AWS glue shared by the Lambda functions (and the local stack's worker)."""
