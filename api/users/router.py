"""Users endpoints: my profile (cached), public profiles and user search."""

from __future__ import annotations

from functools import partial

from ninja import Query, Router

from api.auth import AuthenticatedRequest, auth
from api.cached_answers import cached_answer
from api.pagination import Page, offset_page
from api.users.schemas import (
    MyProfileOut,
    ProfileUpdateIn,
    PublicProfileOut,
    UserSearchParams,
    UserSummaryOut,
)
from musicbud.selectors.profile import (
    ProfileData,
    profile_get,
    profile_reads,
    public_profile_get,
    user_search,
    user_search_count,
)
from musicbud.services.profile import profile_change

router = Router(tags=["users"], auth=auth)


@router.get(
    "/me/profile",
    response=MyProfileOut,
    url_name="my-profile",
    summary="My profile, with my private fields and taste counts",
)
@cached_answer(lambda request: profile_reads(user_id=request.auth.pk))
async def my_profile(request: AuthenticatedRequest) -> ProfileData:
    """My profile with my private fields (email, names, location) and my taste counts per
    relation and kind. Cached: a change of my profile or my taste shows at once."""
    return await profile_get(user_id=request.auth.pk)


@router.patch(
    "/me/profile", response=MyProfileOut, url_name="my-profile", summary="Change my profile"
)
async def update_my_profile(request: AuthenticatedRequest, payload: ProfileUpdateIn) -> ProfileData:
    """Changes the fields sent (display name, bio, avatar URL, first and last name, location);
    omitted fields stay and `""` or `null` clears one. Answers the fresh profile. A display name
    breaking the identifying-name rule is a 422 naming it."""
    return await profile_change(user=request.auth, changes=payload.model_dump(exclude_unset=True))


# Declared before /users/{username}: "search" is also a valid username.
@router.get(
    "/users/search",
    response=Page[UserSummaryOut],
    url_name="user-search",
    summary="Find people by username or display name",
)
async def search_users(
    request: AuthenticatedRequest, params: Query[UserSearchParams]
) -> dict[str, object]:
    """Active users whose username or display name contains `q` (case-insensitive), username
    prefix matches first; without `q`, every active user by username. Never includes me.
    Shows public fields only."""
    # Without q, every active user but me, by username (a username starts with "").
    query, me = params.q or "", request.auth.pk
    return await offset_page(
        request,
        params,
        partial(user_search, query=query, exclude_id=me),
        count=partial(user_search_count, query=query, exclude_id=me),
    )


@router.get(
    "/users/{username}",
    response=PublicProfileOut,
    url_name="user-profile",
    summary="Someone's public profile",
)
async def public_profile(request: AuthenticatedRequest, username: str) -> ProfileData:
    """What anyone signed in may see of `username` (case-insensitive): public fields and taste
    counts (null when their `taste_visible_to` leaves me out), never the email. 404 for an
    unknown or inactive user, and across a block either way (exactly as for an unknown user)."""
    return await public_profile_get(viewer_id=request.auth.pk, username=username)
