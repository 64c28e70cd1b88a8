"""What chat writes check before they change anything: input they clean (422, in the shape
request validation answers) and the membership and role an action needs (403)."""

from __future__ import annotations

from musicbud.chat.models import (
    CLIENT_ID_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    Channel,
    Membership,
    MembershipState,
    Role,
)
from musicbud.chat.selectors import active_user, membership_of
from musicbud.display_text import display_text_normalize, display_text_problem
from musicbud.errors import InvalidInput, PermissionDenied
from musicbud.models import User

STAFF_ROLES = frozenset({Role.ADMIN, Role.MODERATOR})


def _invalid(field: str, message: str, *, detail: str, kind: str) -> InvalidInput:
    """A validation error about one field, in the shape request validation answers."""
    return InvalidInput(
        message,
        code="validation_error",
        details=[{"field": field, "message": detail, "type": kind}],
    )


def _not_blank(value: str, *, field: str, message: str) -> str:
    value = value.strip()
    if not value:
        raise _invalid(field, message, detail="Must not be blank", kind="blank")
    return value


def clean_name(name: str) -> str:
    """The stored spelling of a channel's name (NFKC, so the case-insensitive unique rule
    sees through fullwidth and compatibility forms); 422 for a name that could pass for
    another (``display_text_problem``)."""
    name = _not_blank(display_text_normalize(name), field="name", message="A channel needs a name")
    if (problem := display_text_problem(name)) is not None:
        raise _invalid(
            "name", f"The channel name {problem}", detail=problem.capitalize(), kind="display_text"
        )
    return name


def clean_content(content: str) -> str:
    content = _not_blank(content, field="content", message="A message cannot be blank")
    if len(content) > MESSAGE_MAX_LENGTH:
        raise _invalid(
            "content",
            f"A message holds at most {MESSAGE_MAX_LENGTH} characters",
            detail=f"At most {MESSAGE_MAX_LENGTH} characters",
            kind="too_long",
        )
    return content


def clean_client_id(client_id: str | None) -> str | None:
    if client_id is None:
        return None
    if not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH or not client_id.isprintable():
        raise _invalid(
            "client_id",
            f"client_id: 1-{CLIENT_ID_MAX_LENGTH} printable characters",
            detail="Invalid client id",
            kind="invalid",
        )
    return client_id


def active_membership(channel: Channel, user: User) -> Membership:
    """My active membership of ``channel``; 403 when I have none (or am banned)."""
    membership = membership_of(channel_id=channel.pk, user_id=user.pk)
    if membership is None or membership.state != MembershipState.ACTIVE:
        raise PermissionDenied("You are not a member of this channel", code="not_a_member")
    return membership


def staff_membership(
    channel: Channel, user: User, *, roles: frozenset[str], action: str
) -> Membership:
    """My active membership of ``channel`` in one of ``roles``; 403 otherwise."""
    membership = active_membership(channel, user)
    if membership.role not in roles:
        names = " or ".join(sorted(roles))
        raise PermissionDenied(f"Only a channel {names} may {action}", code="channel_role_required")
    return membership


def membership_locked(*, channel_id: int, user_id: int) -> Membership | None:
    """``user_id``'s membership of the channel, if any, locked for the rest of the transaction."""
    memberships = Membership.objects.select_for_update()
    return memberships.filter(channel_id=channel_id, user_id=user_id).first()


def target_locked(channel: Channel, actor: User, username: str) -> tuple[User, Membership | None]:
    """The user ``actor`` acts on (never themselves: 422) and their membership of
    ``channel``, locked for the rest of the transaction."""
    target = active_user(username)
    if target.pk == actor.pk:
        raise InvalidInput("You cannot do that to yourself", code="same_user")
    return target, membership_locked(channel_id=channel.pk, user_id=target.pk)
