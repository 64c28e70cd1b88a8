"""Account deletion (every model with a foreign key to the user walked), data export (the
zip read back against the database), reports and suspension, and the admin's paths."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.accounts.router import DownloadResponse
from config.asgi import build_application
from graph.models import OutboxOperation, ProjectionOutbox, UserLibrary
from musicbud.accounts.export import (
    EXPORT_BLOCK_BYTES,
    exports_expired_delete,
    exports_storage,
)
from musicbud.accounts.models import ExportJob, ExportStatus, Report, ReportStatus, Suspension
from musicbud.accounts.personal_data import (
    personal_data_parts,
    undeclared_models,
    user_foreign_keys,
)
from musicbud.chat.models import (
    Block,
    Channel,
    Conversation,
    Membership,
    MembershipState,
    Message,
    Role,
)
from musicbud.connections.models import AuthorizationState, ProviderConnection
from musicbud.connections.token_cipher import token_encrypt
from musicbud.imports.models import ImportFormat, ImportJob
from musicbud.imports.services import import_storage
from musicbud.models import EdgeSource, Relation, TasteEdge, TokenFamily, User
from musicbud.relationships.models import CompareLink, FriendRequest, Friendship, PrivacySettings
from musicbud.selectors.profile import profile_get
from musicbud.services.taste import taste_edge_set
from tests.factories import DEFAULT_PASSWORD, TrackFactory, UserFactory
from tests.fixtures.asgi import AsgiResponse, asgi_request
from tests.fixtures.http import assert_envelope, bearer

pytestmark = pytest.mark.django_db(transaction=True)


def delete_me(client: Client, token: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.delete(
        reverse("api-v1:me-delete"),
        {"password": password},
        content_type="application/json",
        headers=bearer(token),
    )


def populate(user: User, other: User, staff: User) -> dict[str, Any]:
    """A row in every table that can point at ``user``, each of its foreign keys used."""
    now = timezone.now()
    track = TrackFactory.create(name="So What")
    taste_edge_set(user=user, kind="track", item=track, relation=Relation.LIKE)
    taste_edge_set(user=other, kind="track", item=track, relation=Relation.LIKE)
    ProviderConnection.objects.create(
        user=user,
        provider="spotify",
        account_id="sp-1",
        account_name="Lena",
        access_token=token_encrypt("access-secret"),
        refresh_token=token_encrypt("refresh-secret"),
        connected_at=now,
    )
    AuthorizationState.objects.create(
        state_hash="a" * 64,
        browser_hash="b" * 64,
        user=user,
        provider="spotify",
        expires_at=now + timedelta(minutes=5),
    )
    user.groups.add(Group.objects.create(name="listeners"))
    user.user_permissions.add(Permission.objects.get(codename="view_stats"))
    solo = Channel.objects.create(name="solo", creator=user)
    Membership.objects.create(
        channel=solo, user=user, role=Role.ADMIN, state=MembershipState.ACTIVE, joined_at=now
    )
    shared = Channel.objects.create(name="jazz", creator=user)
    Membership.objects.create(
        channel=shared, user=user, role=Role.ADMIN, state=MembershipState.ACTIVE, joined_at=now
    )
    Membership.objects.create(
        channel=shared,
        user=other,
        role=Role.MEMBER,
        state=MembershipState.ACTIVE,
        joined_at=now,
        invited_by=user,
    )
    said = Message.objects.create(channel=shared, author=user, content="my secret words")
    Message.objects.create(
        channel=shared, author=other, content="hi", deleted_by=user, deleted_at=now
    )
    low, high = sorted([user, other], key=lambda u: u.pk)
    conversation = Conversation.objects.create(user_low=low, user_high=high)
    Message.objects.create(conversation=conversation, author=user, content="a direct word")
    # ``staff`` was created first: in this conversation ``user`` is the higher id.
    assert staff.pk < user.pk
    Conversation.objects.create(user_low=staff, user_high=user)
    Block.objects.create(blocker=user, blocked=staff)
    Block.objects.create(blocker=other, blocked=user)
    Report.objects.create(reporter=user, reported_user=other, reason="spam", resolved_by=staff)
    Report.objects.create(reporter=other, reported_user=user, reason="spam", resolved_by=user)
    Suspension.objects.create(user=other, suspended_by=user)
    Suspension.objects.create(user=user, suspended_by=staff)
    ExportJob.objects.create(user=user, status=ExportStatus.FAILED)
    Friendship.objects.create(low=staff, high=user)
    Friendship.objects.create(low=user, high=other)
    FriendRequest.objects.create(from_user=user, to_user=staff)
    FriendRequest.objects.create(from_user=other, to_user=user)
    CompareLink.objects.create(token="t" * 64, owner=user, expires_at=now + timedelta(days=1))
    PrivacySettings.objects.get_or_create(user=user)
    upload = import_storage().save(f"{user.public_id}/test.json", ContentFile(b"[]"))
    ImportJob.objects.create(
        user=user,
        format=ImportFormat.SPOTIFY_EXTENDED,
        stored_name=upload,
        upload_name="StreamingHistory.json",
        file_size=2,
        plays=3,
    )
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Channel),
        object_id="1",
        object_repr="x",
        action_flag=DELETION,
    )
    TokenFamily.objects.create(
        id="00000000-0000-0000-0000-000000000001",
        user=user,
        current_jti="j",
        expires_at=now + timedelta(days=1),
    )
    return {"shared": shared, "solo": solo, "said": said}


def test_every_model_with_a_foreign_key_to_the_user_is_declared_by_a_part() -> None:
    # A new model pointing at the user must say, in its slice's personal_data module, how it
    # is exported and deleted (musicbud/accounts/README.md).
    assert undeclared_models() == []


def test_deleting_my_account_leaves_nothing_in_any_table(
    client: Client, login: Any, settings: Any
) -> None:
    settings.GRAPH_PROJECTION = True  # the graph store's copy goes through the outbox
    staff = UserFactory.create(username="staff", is_staff=True)
    user = UserFactory.create(username="lena", email="lena@example.org")
    other = UserFactory.create(username="max")
    token = login(user)
    rows = populate(user, other, staff)
    session = Client()
    session.force_login(user)
    user_id = user.pk
    unused = [
        f"{model._meta.label}.{field.name}"
        for model, field in user_foreign_keys()
        if not model._default_manager.filter(**{field.attname: user_id}).exists()
    ]
    assert unused == []  # the walk below proves something for every foreign key
    mine = client.get(reverse("api-v1:my-profile"), headers=bearer(token["access_token"]))
    assert mine.status_code == HTTPStatus.OK
    cached = profile_get.cache_read(user_id=user_id)
    cached_key = f"{cached.key}{cache.get(cached.generation_key, 0)}"
    assert cache.get(cached_key).email == "lena@example.org"

    wrong = delete_me(client, token["access_token"], password="not-it")
    assert_envelope(wrong, HTTPStatus.UNPROCESSABLE_ENTITY, "wrong_password")
    assert User.objects.filter(pk=user_id).exists()

    response = delete_me(client, token["access_token"])

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not User.objects.filter(pk=user_id).exists()
    left = [
        f"{model._meta.label}.{field.name}"
        for model, field in user_foreign_keys()
        if model._default_manager.filter(**{field.attname: user_id}).exists()
    ]
    assert left == []
    assert cache.get(cached_key) is None  # the cached profile (names, email) went with it
    # Their channel message is a placeholder; the other member's rows stay.
    said = Message.objects.get(pk=rows["said"].pk)
    assert (said.author_id, said.content) == (None, "")
    assert not Message.objects.filter(content__in=["my secret words", "a direct word"]).exists()
    # The direct conversation stays for the other person, the word a placeholder.
    [kept] = Conversation.objects.filter(Q(user_low=other) | Q(user_high=other))
    assert {kept.user_low_id, kept.user_high_id} == {other.pk, None}
    placeholder = Message.objects.get(conversation=kept)
    assert (placeholder.author_id, placeholder.content) == (None, "")
    listed = login(other)["access_token"]
    [row] = client.get(reverse("api-v1:chat-conversations"), headers=bearer(listed)).json()["items"]
    assert row["user"] == {"username": "", "display_name": "Deleted account"}
    assert row["last_message"]["author"] == {"username": "", "display_name": "Deleted account"}
    assert row["last_message"]["content"] == ""
    assert Membership.objects.get(channel=rows["shared"], user=other).role == Role.ADMIN
    assert not Channel.objects.filter(pk=rows["solo"].pk).exists()
    assert TasteEdge.objects.filter(user=other).count() == 1
    assert UserLibrary.objects.filter(user=other).exists()
    assert Report.objects.count() == 0
    assert not import_storage().exists(f"{user.public_id}/test.json")
    # The graph projection: the user node's deletion queued like any write, naming no one.
    [removal] = ProjectionOutbox.objects.filter(
        user_pk=user_id, operation=OutboxOperation.USER_DELETE
    )
    assert (removal.username, removal.display_name) == ("", "")
    assert not ProjectionOutbox.objects.filter(username="lena").exists()
    # Every login ends at once.
    assert (
        client.get(reverse("api-v1:auth-me"), headers=bearer(token["access_token"])).status_code
        == 401
    )
    refreshed = client.post(
        reverse("api-v1:auth-refresh"),
        {"refresh_token": token["refresh_token"]},
        content_type="application/json",
    )
    assert refreshed.status_code == HTTPStatus.UNAUTHORIZED
    assert session.get(reverse("api-v1:auth-me")).status_code == HTTPStatus.UNAUTHORIZED
    assert not [
        s
        for s in Session.objects.all()
        if str(s.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    # The username and the address are free.
    again = client.post(
        reverse("api-v1:auth-register"),
        {"username": "lena", "email": "lena@example.org", "password": "a-brand-new-passphrase-77"},
        content_type="application/json",
    )
    assert again.status_code == HTTPStatus.CREATED
    assert User.objects.get(username="lena").pk != user_id


def test_the_admin_deletes_through_the_same_service_with_a_log_entry(login: Any) -> None:
    admin_user = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    user = UserFactory.create(username="lena")
    other = UserFactory.create(username="max")
    rows = populate(user, other, admin_user)
    session = Client()
    session.force_login(user)
    staff = Client()
    staff.force_login(admin_user)
    user_id = user.pk

    response = staff.post(reverse("admin:musicbud_user_delete", args=[user_id]), {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert not User.objects.filter(pk=user_id).exists()
    assert not [
        s
        for s in Session.objects.all()
        if str(s.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    assert Membership.objects.get(channel=rows["shared"], user=other).role == Role.ADMIN
    [entry] = LogEntry.objects.filter(object_id=str(user_id), action_flag=DELETION)
    assert (entry.user_id, entry.object_repr) == (admin_user.pk, f"account {user_id} (deleted)")
    assert not LogEntry.objects.filter(object_repr="lena").exists()


async def _served(path: str, token: str) -> AsgiResponse:
    app = build_application()
    try:
        return await asgi_request(app, path, headers=[("authorization", f"Bearer {token}")])
    finally:
        for hook in app.before_shutdown:
            await hook()


def test_export_zip_reads_back_as_the_database(client: Client, login: Any) -> None:
    staff = UserFactory.create(username="staff")
    user = UserFactory.create(username="lena")
    other = UserFactory.create(username="max")
    token = login(user)["access_token"]
    populate(user, other, staff)

    started = client.post(reverse("api-v1:my-export-request"), headers=bearer(token))

    assert started.status_code == HTTPStatus.ACCEPTED
    export_id = started.json()["id"]
    state = client.get(reverse("api-v1:my-export", args=[export_id]), headers=bearer(token)).json()
    assert state["status"] == "ready"
    assert state["progress"] == 100
    assert state["download_url"] == f"/api/v1/me/export/{export_id}/download"
    job = ExportJob.objects.get(pk=export_id)
    assert state["expires_at"] is not None
    assert job.expires_at is not None

    stranger = login(other)["access_token"]
    assert client.get(state["download_url"], headers=bearer(stranger)).status_code == 404
    assert client.get(state["download_url"]).status_code == 401
    # Through the ASGI application, as served: the zip streamed block by block (an async
    # iterator; Django's ASGI handler would read a sync one whole into memory first, warning).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        download = async_to_sync(_served)(state["download_url"], token)
    # (Django's: "StreamingHttpResponse must consume synchronous iterators ...")
    assert [str(w.message) for w in caught if "iterator" in str(w.message)] == []
    assert download.status == HTTPStatus.OK
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-length"] == str(len(download.body))
    stamp = job.created_at.strftime("%Y%m%d")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="musicbud-export-{stamp}.zip"'
    )
    assert download.headers["cache-control"] == "private, no-store"
    assert download.body_messages == -(-len(download.body) // EXPORT_BLOCK_BYTES)
    archive = zipfile.ZipFile(io.BytesIO(download.body))
    files = {name: archive.read(name).decode() for name in archive.namelist()}
    expected = {f"{part.name}.json" for part in personal_data_parts() if part.export is not None}
    assert set(files) == expected | {"README.txt"}
    for name in expected:
        assert f"{name}:" in files["README.txt"]

    profile = json.loads(files["profile.json"])
    assert (profile["username"], profile["email"], profile["groups"]) == (
        "lena",
        user.email,
        ["listeners"],
    )
    taste = json.loads(files["taste.json"])
    edge = TasteEdge.objects.get(user=user)
    assert taste == [
        {
            "relation": "like",
            "kind": "track",
            "item_id": str(TrackFactory._meta.model.objects.get(pk=edge.track_id).public_id),
            "item_name": "So What",
            "rank": None,
            "play_count": None,
            "last_played_at": None,
            "source": EdgeSource.MANUAL,
            "created_at": edge.created_at.isoformat(),
            "updated_at": edge.updated_at.isoformat(),
        }
    ]
    connections = json.loads(files["connections.json"])
    assert [c["account_id"] for c in connections] == ["sp-1"]
    assert "secret" not in files["connections.json"]
    messages = json.loads(files["chat_messages.json"])
    assert sorted(m["content"] for m in messages) == ["a direct word", "my secret words"]
    assert [b["username"] for b in json.loads(files["blocks.json"])] == ["staff"]
    assert [r["reported_username"] for r in json.loads(files["reports.json"])] == ["max"]
    [upload] = json.loads(files["imports.json"])
    assert (upload["format"], upload["file_name"], upload["plays"]) == (
        "spotify_extended",
        "StreamingHistory.json",
        3,
    )

    # Past its expiry the zip is deleted and the download refused.
    ExportJob.objects.filter(pk=export_id).update(expires_at=timezone.now() - timedelta(1))
    assert client.get(state["download_url"], headers=bearer(token)).status_code == 410
    assert exports_expired_delete() == 1
    assert not exports_storage().exists(job.file_name)
    assert ExportJob.objects.get(pk=export_id).status == ExportStatus.EXPIRED


def test_reports_reach_staff_and_never_the_reported(client: Client, login: Any) -> None:
    reporter = UserFactory.create(username="lena")
    reported = UserFactory.create(username="max")
    token = login(reporter)["access_token"]
    channel = Channel.objects.create(name="jazz")
    for person in (reporter, reported):
        Membership.objects.create(channel=channel, user=person, state=MembershipState.ACTIVE)
    message = Message.objects.create(channel=channel, author=reported, content="buy my pills")
    hidden = Message.objects.create(
        channel=Channel.objects.create(name="elsewhere"), author=reported, content="x"
    )

    def report(body: dict[str, Any]) -> Any:
        return client.post(
            reverse("api-v1:report-create"),
            body,
            content_type="application/json",
            headers=bearer(token),
        )

    by_name = report({"username": "MAX", "reason": "harassment", "note": " mean "})
    by_message = report({"message_id": str(message.public_id), "reason": "spam"})

    assert by_name.status_code == by_message.status_code == HTTPStatus.CREATED
    assert by_message.json()["status"] == "open"
    first, second = Report.objects.order_by("pk")
    assert (first.reported_user, first.note, first.message) == (reported, "mean", None)
    assert (second.reported_user, second.message_content) == (reported, "buy my pills")
    assert_envelope(
        report({"message_id": str(hidden.public_id), "reason": "spam"}), 404, "message_not_found"
    )
    assert_envelope(report({"username": "lena", "reason": "spam"}), 422, "report_self")
    assert_envelope(report({"reason": "spam"}), 422, "report_target_required")
    assert Report.objects.count() == 2


def test_suspension_from_the_report_queue_ends_logins_and_hides_the_account(
    client: Client, login: Any
) -> None:
    admin_user = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    reporter = UserFactory.create(username="lena")
    reported = UserFactory.create(username="max")
    report = Report.objects.create(reporter=reporter, reported_user=reported, reason="spam")
    pair = login(reported)
    viewer = login(reporter)["access_token"]
    staff = Client()
    staff.force_login(admin_user)

    response = staff.post(
        reverse("admin:accounts_report_changelist"),
        {"action": "suspend_reported", "_selected_action": [report.pk]},
    )

    assert response.status_code == HTTPStatus.FOUND
    reported.refresh_from_db()
    assert reported.is_active is False
    assert Suspension.objects.get(user=reported).suspended_by == admin_user
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED
    assert (
        client.get(reverse("api-v1:auth-me"), headers=bearer(pair["access_token"])).status_code
        == 401
    )
    refreshed = client.post(
        reverse("api-v1:auth-refresh"),
        {"refresh_token": pair["refresh_token"]},
        content_type="application/json",
    )
    assert refreshed.status_code == HTTPStatus.UNAUTHORIZED
    profile = client.get(reverse("api-v1:user-profile", args=["max"]), headers=bearer(viewer))
    assert profile.status_code == HTTPStatus.NOT_FOUND
    search = client.get(reverse("api-v1:user-search"), {"q": "max"}, headers=bearer(viewer))
    assert search.json()["items"] == []


def test_a_lost_export_job_does_not_block_the_next(client: Client, login: Any) -> None:
    user = UserFactory.create()
    token = login(user)["access_token"]
    lost = ExportJob.objects.create(
        user=user, status=ExportStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    started = client.post(reverse("api-v1:my-export-request"), headers=bearer(token))

    assert started.status_code == HTTPStatus.ACCEPTED
    assert started.json()["id"] != str(lost.pk)
    assert started.json()["status"] == "ready"
    lost.refresh_from_db()
    assert lost.status == ExportStatus.FAILED


def test_a_download_closed_unread_closes_its_file() -> None:
    """A download answer closed before its body is read (the client gone first, a
    middleware's own answer) still closes the export's file, as FileResponse did."""
    handle = io.BytesIO(b"PK zip bytes")
    response = DownloadResponse(handle, content_type="application/zip")

    response.close()

    assert handle.closed
