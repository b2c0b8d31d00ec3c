"""Benchmarks: each prints one JSON line, our figure beside a baseline measured in the same run."""
