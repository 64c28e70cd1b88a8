"""Development and test tooling: stand-in servers, benchmarks, the bud-ranking evaluation. No
production import path needs this package."""
