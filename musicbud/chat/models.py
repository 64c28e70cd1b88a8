"""Chat's relational models: the database is the record; sockets only carry copies."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from musicbud.display_text import display_text_key

MESSAGE_MAX_LENGTH = 4000
CLIENT_ID_MAX_LENGTH = 64


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MODERATOR = "moderator", "Moderator"
    MEMBER = "member", "Member"


class MembershipState(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending (asked to join)"
    INVITED = "invited", "Invited"
    BANNED = "banned", "Banned"


class Channel(models.Model):
    # The id the API and the socket show: row ids would tell how many there are.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=80)
    # The name as two names are compared (``display_text_key``): case, compatibility forms
    # and letters that pass for Latin ones folded away, so no channel can take another's
    # name in look-alike letters. Kept by ``save``.
    name_key = models.CharField(max_length=160, unique=True, editable=False)
    description = models.TextField(max_length=500, blank=True)
    visibility = models.CharField(
        max_length=7, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = display_text_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)


class Conversation(models.Model):
    """A direct conversation between two users, stored once (``user_low`` has the lower id).

    A side is None once that person deleted their account: the other keeps the conversation,
    whose messages from the deleted account are placeholders without text."""

    # The id the API and the socket show: row ids would tell how many there are.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Each side's read marker: the newest message that side has read.
    user_low_last_read = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_high_last_read = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_low", "user_high"], name="chat_conversation_pair"
            ),
            models.CheckConstraint(
                condition=Q(user_low__lt=F("user_high")), name="chat_conversation_ordered_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"conversation {self.user_low_id}-{self.user_high_id}"


class Message(models.Model):
    # The id the API and the socket show: row ids would tell how many there are.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    # None once the author deleted their account: the message stays, as a placeholder with
    # no text, so the conversation around it still reads in order.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    content = models.TextField(max_length=MESSAGE_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The sender's own id for the message: a retried send with the same id stores nothing new.
    # NULL, not "": unique per author among the messages that carry one.
    client_id = models.CharField(  # noqa: DJ001
        max_length=CLIENT_ID_MAX_LENGTH, null=True, blank=True
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(channel__isnull=False, conversation__isnull=True)
                    | Q(channel__isnull=True, conversation__isnull=False)
                ),
                name="chat_message_one_place",
            ),
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="chat_message_client_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "-id"], name="chat_message_channel_idx"),
            models.Index(fields=["conversation", "-id"], name="chat_message_conv_idx"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk}"


class Membership(models.Model):
    # The id the API and the socket show: row ids would tell how many there are.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    role = models.CharField(max_length=9, choices=Role.choices, default=Role.MEMBER)
    state = models.CharField(max_length=7, choices=MembershipState.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    last_read_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="chat_membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "state"], name="chat_membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.channel_id} ({self.role}, {self.state})"


class Block(models.Model):
    """``blocker`` receives nothing from ``blocked``, who may not message them directly."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_blocks"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="chat_block_unique"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="chat_block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
