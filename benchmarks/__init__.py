"""Benchmarks: scripts that measure and print figures (`make bench`); never timed tests."""
