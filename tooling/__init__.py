"""Tooling: benchmarks, demo data, test servers; nothing that serves a request imports it."""
