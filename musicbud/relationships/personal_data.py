"""Relationships' part of a person's data (the registry: musicbud/accounts/personal_data.py):
friends, friend requests, compare links and privacy settings; every row goes with the account
by its foreign keys' cascade."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from musicbud.accounts.personal_data import PersonalDataPart, personal_data_register
from musicbud.models import User
from musicbud.relationships.models import Friendship


def _friends(user: User) -> list[dict[str, Any]]:
    rows = Friendship.objects.filter(Q(low=user) | Q(high=user)).select_related("low", "high")
    return [
        {"username": (row.high if row.low_id == user.pk else row.low).username}
        for row in rows.order_by("pk")
    ]


personal_data_register(
    PersonalDataPart(
        name="friends",
        description="Your friends (usernames).",
        models=(
            "relationships.Friendship",
            "relationships.FriendRequest",
            "relationships.CompareLink",
            "relationships.PrivacySettings",
        ),
        export=_friends,
        order=45,
    )
)
