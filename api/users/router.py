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
)
from musicbud.services.profile import profile_change

router = Router(tags=["users"], auth=auth)


@router.get("/me/profile", response=MyProfileOut, url_name="my-profile")
@cached_answer(lambda request: profile_reads(user_id=request.auth.pk))
async def my_profile(request: AuthenticatedRequest) -> ProfileData:
    return await profile_get(user_id=request.auth.pk)


@router.patch("/me/profile", response=MyProfileOut, url_name="my-profile")
async def update_my_profile(request: AuthenticatedRequest, payload: ProfileUpdateIn) -> ProfileData:
    return await profile_change(user=request.auth, changes=payload.model_dump(exclude_unset=True))


# Declared before /users/{username}: "search" is also a valid username.
@router.get("/users/search", response=Page[UserSummaryOut], url_name="user-search")
async def search_users(
    request: AuthenticatedRequest, params: Query[UserSearchParams]
) -> dict[str, object]:
    return await offset_page(
        request, params, partial(user_search, query=params.q, exclude_id=request.auth.pk)
    )


@router.get("/users/{username}", response=PublicProfileOut, url_name="user-profile")
async def public_profile(request: AuthenticatedRequest, username: str) -> ProfileData:
    return await public_profile_get(viewer_id=request.auth.pk, username=username)
