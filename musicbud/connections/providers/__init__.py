"""The music services a user can connect: one module each behind ``base.Provider``, declared
once in ``registry``."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from musicbud.connections.providers.base import Provider
from musicbud.connections.providers.registry import provider_entry


def provider_get(name: str) -> Provider[Any]:
    """A fresh provider (each holds its own HTTP client); 404 for an unknown name."""
    client: type[Provider[Any]] = import_string(provider_entry(name).client)
    return client()
