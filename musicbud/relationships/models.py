"""Relationships as data: privacy settings, friend requests, friendships and compare links.
Blocks stay in the chat slice's table (``musicbud.chat.models.Block``); the rule that reads
them is ``musicbud.relationships.visibility``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    FRIENDS = "friends", "Friends"
    NOBODY = "nobody", "Nobody"


class PrivacySettings(models.Model):
    """Who finds me (``discoverable``: buds, item buds, search, the buds recommendations are
    drawn from) and who sees my taste (lists, common items, compatibility). No row: everyone,
    both."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="privacy_settings",
    )
    discoverable = models.CharField(
        max_length=8, choices=Audience.choices, default=Audience.EVERYONE
    )
    taste_visible_to = models.CharField(
        max_length=8, choices=Audience.choices, default=Audience.EVERYONE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "privacy settings"
        # The visibility rule reads the rows that restrict anything: few, by this index.
        indexes = [
            models.Index(
                fields=["discoverable"],
                name="privacy_discoverable_idx",
                condition=~Q(discoverable="everyone"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: discoverable {self.discoverable}, taste {self.taste_visible_to}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


class FriendRequest(models.Model):
    """One ask to be friends, with its answer; at most one pending per direction."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_sent"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_received"
    )
    status = models.CharField(
        max_length=9, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_user", "to_user"],
                condition=Q(status="pending"),
                name="friend_request_one_pending",
            ),
            models.CheckConstraint(
                condition=~Q(from_user=F("to_user")), name="friend_request_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["to_user", "status", "-id"], name="friend_request_incoming_idx"),
            models.Index(fields=["from_user", "status", "-id"], name="friend_request_out_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} asks {self.to_user_id} ({self.status})"


class Friendship(models.Model):
    """Two friends, one row: ``low`` is the smaller user id, so a pair cannot be stored
    twice."""

    low = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["low", "high"], name="friendship_unique"),
            models.CheckConstraint(condition=Q(low__lt=F("high")), name="friendship_ordered"),
        ]
        indexes = [models.Index(fields=["high"], name="friendship_high_idx")]

    def __str__(self) -> str:
        return f"{self.low_id} and {self.high_id}"


class CompareLink(models.Model):
    """A link its holder opens to compare with the owner, whatever the owner's privacy. The
    token is the secret: 192 random bits, never logged (see ``api.logs``)."""

    token = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="compare_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-id"], name="compare_link_owner_idx")]

    def __str__(self) -> str:
        return f"compare link #{self.pk} of {self.owner_id}"
