"""Benchmarks: `python -m bench [gateway|pipeline]` (see docs/benchmarks.md)."""
