"""Tooling kept apart from the production packages: benchmarks, the demo-data generator and test
servers. Nothing that serves a request imports it; management commands import it lazily."""
