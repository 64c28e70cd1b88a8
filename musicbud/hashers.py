"""A cheap Argon2 hasher for the test suite only (ENVIRONMENT=test puts it first)."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class TestArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with minimal cost; the parameters travel in the hash, so verification works."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
