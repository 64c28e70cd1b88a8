"""Re-encrypt every stored provider token under the first PROVIDER_TOKEN_KEYS key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from musicbud.connections.models import AuthorizationState, ProviderConnection
from musicbud.connections.token_cipher import token_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt provider tokens with the first key of PROVIDER_TOKEN_KEYS, so the keys "
        "after it can be dropped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        with transaction.atomic():
            for connection in ProviderConnection.objects.select_for_update().order_by("pk"):
                connection.access_token = token_rotate(connection.access_token)
                connection.refresh_token = token_rotate(connection.refresh_token)
                connection.save(update_fields=["access_token", "refresh_token", "updated_at"])
                rotated += 1
            for state in AuthorizationState.objects.select_for_update().order_by("pk"):
                state.code_verifier = token_rotate(state.code_verifier)
                state.save(update_fields=["code_verifier"])
        self.stdout.write(f"re-encrypted the tokens of {rotated} connections")
