"""Development and test tooling: stand-in servers, benchmarks. No production import path
needs this package."""
