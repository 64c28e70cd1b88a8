"""Likes addressed the way the API receives them: by item kind and public id."""

from __future__ import annotations

from uuid import UUID

from musicbud.models import Relation, TasteEdge, User
from musicbud.selectors.catalogue import catalogue_item_lookup
from musicbud.services.taste import like_remove, taste_edge_set


def like_put(*, user: User, kind: str, public_id: UUID) -> tuple[TasteEdge, bool]:
    """Like an item (idempotent); returns the like edge and whether it is new.

    Raises NotFound when there is no such item.
    """
    item = catalogue_item_lookup(kind=kind, public_id=public_id)
    edge, created = taste_edge_set(user=user, kind=kind, item=item, relation=Relation.LIKE)
    # Attach the item already in hand, so callers read ``edge.<kind>`` without a query.
    setattr(edge, kind, item)
    return edge, created


def like_delete(*, user: User, kind: str, public_id: UUID) -> bool:
    """Unlike an item; returns whether it was liked. Raises NotFound for an unknown item."""
    item = catalogue_item_lookup(kind=kind, public_id=public_id)
    return like_remove(user=user, kind=kind, item=item)
