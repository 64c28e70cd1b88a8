"""Moderator tools in the Django admin: channels with their members, messages, blocks.

The actions go through the chat services (``services.moderation``), so open sockets hear
about them at once.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.chat.models import Block, Channel, Conversation, Membership, Message
from musicbud.chat.services.checks import clean_name
from musicbud.chat.services.moderation import chat_memberships_ban, chat_messages_remove
from musicbud.display_text import display_text_key
from musicbud.errors import InvalidInput
from musicbud.relationships.admin import PairDeletionAdmin


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    fk_name = "channel"
    extra = 0
    raw_id_fields = ("user", "invited_by", "last_read_message")
    fields = ("user", "role", "state", "joined_at", "invited_by")
    readonly_fields = ("joined_at",)


class ChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    """The API's rules for a name: no look-alike, invisible or control characters, and unique
    by its look-alike key."""

    class Meta:
        model = Channel
        fields = ("name", "description", "visibility", "creator")

    def clean_name(self) -> str:
        try:
            name = clean_name(self.cleaned_data["name"])
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None
        taken = Channel.objects.filter(name_key=display_text_key(name))
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"A channel named {name!r} exists")
        return name


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ChannelForm
    list_display = ("name", "visibility", "creator", "created_at")
    list_filter = ("visibility",)
    search_fields = ("name", "description")
    raw_id_fields = ("creator",)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("channel", "user", "role", "state", "joined_at")
    list_filter = ("role", "state")
    search_fields = ("channel__name", "user__username")
    raw_id_fields = ("channel", "user", "invited_by", "last_read_message")
    actions = ["ban_members"]

    @admin.action(description="Ban the selected members (their sockets leave at once)")
    def ban_members(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        banned = async_to_sync(chat_memberships_ban)(membership_ids=ids)
        self.message_user(request, f"Banned {banned} member(s).", messages.SUCCESS)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "author",
        "channel",
        "conversation",
        "excerpt",
        "created_at",
        "deleted_at",
    )
    list_filter = (DeletedFilter, "created_at")
    search_fields = ("content", "author__username", "channel__name")
    raw_id_fields = ("channel", "conversation", "author", "deleted_by")
    readonly_fields = ("created_at", "client_id")
    list_select_related = ("author", "channel")
    actions = ["remove_messages"]

    # Messages are written by their authors through the chat services (stored, then fanned
    # out to the sockets); moderators read them and remove them with the action, never add
    # one under somebody's name or rewrite one.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False

    @admin.display(description="content")
    def excerpt(self, obj: Message) -> str:
        return obj.content if len(obj.content) <= 80 else f"{obj.content[:79]}…"

    @admin.action(description="Remove the selected messages (members are told at once)")
    def remove_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        removed = async_to_sync(chat_messages_remove)(staff=request.user, message_ids=ids)  # type: ignore[arg-type]
        self.message_user(request, f"Removed {removed} message(s).", messages.SUCCESS)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "user_low", "user_high", "created_at")
    search_fields = ("user_low__username", "user_high__username")
    raw_id_fields = ("user_low", "user_high", "user_low_last_read", "user_high_last_read")


@admin.register(Block)
class BlockAdmin(PairDeletionAdmin):
    # Blocks are made by people (the block service ends their friendship and requests too);
    # staff may lift one.
    pair_fields = ("blocker_id", "blocked_id")
    list_display = ("blocker", "blocked", "created_at")
    search_fields = ("blocker__username", "blocked__username")
    raw_id_fields = ("blocker", "blocked")
