"""The domain app's parts of a person's data (the registry: musicbud/accounts/personal_data.py):
the profile, taste, provider connections and logins."""

from __future__ import annotations

import logging
from typing import Any

from musicbud.accounts.personal_data import PersonalDataPart, personal_data_register
from musicbud.connections.models import ProviderConnection
from musicbud.kinds import ITEM_MODELS
from musicbud.models import TasteEdge, User

logger = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": str(user.public_id),
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified_at is not None,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_url": user.avatar_url,
        "location": user.location,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def _taste(user: User) -> list[dict[str, Any]]:
    edges = list(TasteEdge.objects.filter(user=user).order_by("pk"))
    names: dict[str, dict[int, tuple[str, str]]] = {}
    for kind, model in ITEM_MODELS.items():
        ids = {edge.item_id for edge in edges if edge.kind == kind}
        names[kind] = {
            pk: (str(public_id), name)
            for pk, public_id, name in model._default_manager.filter(pk__in=ids).values_list(
                "pk", "public_id", "name"
            )
        }
    rows = []
    for edge in edges:
        public_id, name = names[edge.kind][edge.item_id or 0]
        rows.append(
            {
                "relation": edge.relation,
                "kind": edge.kind,
                "item_id": public_id,
                "item_name": name,
                "rank": edge.rank,
                "play_count": edge.play_count,
                "last_played_at": _iso(edge.last_played_at),
                "source": edge.source,
                "created_at": _iso(edge.created_at),
                "updated_at": _iso(edge.updated_at),
            }
        )
    return rows


def _connections(user: User) -> list[dict[str, Any]]:
    # Never a token: the export names the accounts, the grants stay secret.
    return [
        {
            "provider": row.provider,
            "account_id": row.account_id,
            "account_name": row.account_name,
            "status": row.status,
            "scope": row.scope,
            "connected_at": _iso(row.connected_at),
            "last_synced_at": _iso(row.last_synced_at),
        }
        for row in ProviderConnection.objects.filter(user=user).order_by("provider")
    ]


def _connections_release(user: User) -> None:
    """Revoke each grant at its service where the service offers revocation."""
    from musicbud.connections.providers.base import TokenSet
    from musicbud.connections.providers.errors import ProviderError
    from musicbud.connections.providers.registry import provider_get
    from musicbud.connections.token_cipher import token_decrypt

    for connection in ProviderConnection.objects.filter(user=user):
        try:
            with provider_get(connection.provider) as provider:
                revoked = provider.token_revoke(
                    tokens=TokenSet(
                        access_token=token_decrypt(connection.access_token)
                        if connection.access_token
                        else "",
                        refresh_token=token_decrypt(connection.refresh_token)
                        if connection.refresh_token
                        else "",
                    )
                )
        except ProviderError as exc:
            # The tokens are deleted anyway; the grant ends when the person removes the app.
            logger.warning(
                "provider grant not revoked",
                extra={"provider": connection.provider, "error": type(exc).__name__},
            )
            continue
        logger.info(
            "provider grant released", extra={"provider": connection.provider, "revoked": revoked}
        )


personal_data_register(
    PersonalDataPart(
        name="profile",
        description="Your account: username, email address, profile fields, dates.",
        models=("musicbud.User_groups", "musicbud.User_user_permissions"),
        export=_profile,
        order=10,
    )
)
personal_data_register(
    PersonalDataPart(
        name="taste",
        description=(
            "Every taste edge: what you like, your top items (rank) and what you played "
            "(play count), each with its source (manual, import, spotify, ...) and times."
        ),
        models=("musicbud.TasteEdge", "graph.UserLibrary"),
        export=_taste,
        order=20,
    )
)
personal_data_register(
    PersonalDataPart(
        name="connections",
        description="The music services you connected (account, status, dates), without tokens.",
        models=("musicbud.ProviderConnection", "musicbud.AuthorizationState"),
        export=_connections,
        release=_connections_release,
        order=30,
    )
)
personal_data_register(
    PersonalDataPart(
        name="logins",
        description="",
        # Refresh-token families: revoked (and cached as revoked) before the account goes.
        models=("musicbud.TokenFamily",),
        order=90,
    )
)
