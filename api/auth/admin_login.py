"""The admin's login form: it spends the API login's budgets (per account, per client address)
before Django checks the password, so the admin is no unlimited way to guess one."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.admin.forms import AdminAuthenticationForm

from api.auth.security import login_rate_limits


class RateLimitedAdminAuthenticationForm(AdminAuthenticationForm):
    """``AdminSite.login_form``. Over a budget, ``RateLimited`` leaves the admin's login view
    and is answered like any error outside the API: the error envelope (429, Retry-After);
    without the counters, the 503 of an outage, whichever the password."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if self.request is not None and username is not None and password:
            # The admin's views are sync; the limiter is the API's async one.
            async_to_sync(login_rate_limits)(self.request, login=username)
        cleaned: dict[str, Any] = super().clean()
        return cleaned
