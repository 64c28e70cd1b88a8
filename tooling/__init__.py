"""Tooling kept apart from the production packages: stand-in servers, benchmarks, the bud-ranking
evaluation, the demo-data generator, the test Bolt server. No production import path needs it
(management commands import it when they run)."""
