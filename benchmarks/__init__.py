"""Benchmarks: every stage measured against the naive pipeline (``python -m benchmarks.run``). Not run by CI."""
