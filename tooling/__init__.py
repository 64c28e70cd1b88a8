"""Tooling apart from the production packages: benchmarks, generators, test servers."""
