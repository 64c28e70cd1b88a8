"""The registry of a person's data: each slice declares its part (the models holding rows
about the person, how to export them, and anything deletion must do beyond the database's
cascade) in a ``personal_data`` module of its app; account deletion and data export walk the
registry, never a list of their own (musicbud/accounts/README.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.db import models

from musicbud.models import User

# A JSON value: what an export function returns for its file.
Exported = Any


@dataclass(frozen=True, slots=True)
class PersonalDataPart:
    """One slice's part of a person's data.

    - ``name``: the export's file (``<name>.json``), and how logs name the part.
    - ``description``: one line of the export's README describing the file.
    - ``models``: every model (``app_label.ModelName``) with a foreign key to the user that
      this part answers for; a test fails naming a model no part declares.
    - ``export``: the part's rows as JSON (sync; None: nothing to export, e.g. credentials).
    - ``erase``: what deletion must do before the user row goes, in the deletion's
      transaction (sync; None: the foreign keys' cascade is enough).
    - ``release``: work outside the database before the transaction (revoking grants at a
      service); best effort, it must not fail the deletion.
    """

    name: str
    description: str
    models: tuple[str, ...]
    export: Callable[[User], Exported] | None = None
    erase: Callable[[User], None] | None = None
    release: Callable[[User], None] | None = None
    order: int = field(default=100)


_PARTS: dict[str, PersonalDataPart] = {}


def personal_data_register(part: PersonalDataPart) -> PersonalDataPart:
    """Declare a part (once per name; a module imported twice registers the same part)."""
    existing = _PARTS.get(part.name)
    if existing is not None and existing != part:
        raise ValueError(f"personal data part {part.name!r} is declared twice")
    _PARTS[part.name] = part
    return part


def personal_data_parts() -> list[PersonalDataPart]:
    return sorted(_PARTS.values(), key=lambda part: (part.order, part.name))


def user_foreign_keys() -> list[tuple[type[models.Model], models.Field[Any, Any]]]:
    """Every (model, field) in the app registry whose foreign key (or one-to-one) points at
    the user model, auto-created many-to-many tables included."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    found = []
    for model in apps.get_models(include_auto_created=True):
        for model_field in model._meta.get_fields(include_hidden=True):
            if (
                model_field.concrete
                and model_field.is_relation
                and (model_field.many_to_one or model_field.one_to_one)
                and model_field.related_model is user_model
            ):
                found.append((model, cast("models.Field[Any, Any]", model_field)))
    return found


def model_label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def undeclared_models() -> list[str]:
    """The models holding a foreign key to the user that no part declares."""
    declared = {label for part in _PARTS.values() for label in part.models}
    return sorted({model_label(model) for model, _ in user_foreign_keys()} - declared)


# --- the accounts slice's own parts -------------------------------------------------------------


def _reports(user: User) -> list[dict[str, Any]]:
    from musicbud.accounts.models import Report

    return [
        {
            "id": report.pk,
            "reported_username": report.reported_user.username,
            "message_id": None if report.message is None else str(report.message.public_id),
            "reason": report.reason,
            "note": report.note,
            "status": report.status,
            "created_at": report.created_at.isoformat(),
        }
        for report in Report.objects.filter(reporter=user).select_related(
            "reported_user", "message"
        )
    ]


personal_data_register(
    PersonalDataPart(
        name="reports",
        description="The reports you made to our staff (never shown to the person reported).",
        # Reports about the person go with them too: there is nobody left to act on.
        models=("accounts.Report",),
        export=_reports,
        order=70,
    )
)
personal_data_register(
    PersonalDataPart(
        name="account_records",
        description="",
        # A suspension, the export jobs (their files are deleted with them), and the admin's
        # log of a staff member's own actions.
        models=("accounts.Suspension", "accounts.ExportJob", "admin.LogEntry"),
        erase=lambda user: _exports_erase(user),
        order=95,
    )
)


def _exports_erase(user: User) -> None:
    from musicbud.accounts.export import export_files_delete
    from musicbud.accounts.models import ExportJob

    export_files_delete(ExportJob.objects.filter(user=user))
