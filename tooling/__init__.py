"""Tooling that no production import path needs: benchmarks, demo data, test servers."""
