"""The chat reads whose cost matters: a resume reads the user's own channels and
conversations through their indexes, never the rest of the table (PostgreSQL plans)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from musicbud.chat.models import Channel, Conversation, Membership, MembershipState, Message
from musicbud.chat.selectors import chat_messages_since
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OTHER_MESSAGES = 20_000


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan read from chat_message: those it kept and those its filters dropped."""
    own = 0
    if node.get("Relation Name") == Message._meta.db_table:
        loops = node.get("Actual Loops", 1)
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * loops
    return own + sum(_rows_read(child) for child in node.get("Plans", []))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan")
def test_a_resume_reads_only_my_channels_and_conversations() -> None:
    ana, ben, cat = (UserFactory.create(username=name) for name in ("ana", "ben", "cat"))
    mine = Channel.objects.create(name="mine", creator=ana)
    other = Channel.objects.create(name="other", creator=cat)
    Membership.objects.create(channel=mine, user=ana, state=MembershipState.ACTIVE)
    conversation = Conversation.objects.create(user_low=ana, user_high=ben)
    first = Message.objects.create(channel=mine, author=ana, content="before")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Message._meta.db_table}"  # noqa: S608 - the model's own table name
            " (channel_id, author_id, content, created_at, public_id)"
            " SELECT %s, %s, 'elsewhere', now(), gen_random_uuid() FROM generate_series(1, %s)",
            [other.pk, cat.pk, OTHER_MESSAGES],
        )
        cursor.execute(f"ANALYZE {Message._meta.db_table}")
    wanted = [
        Message.objects.create(channel=mine, author=ana, content="one"),
        Message.objects.create(conversation=conversation, author=ben, content="two"),
        Message.objects.create(channel=mine, author=ana, content="three"),
    ]

    with CaptureQueriesContext(connection) as queries:
        rows = async_to_sync(chat_messages_since)(user_id=ana.pk, after=first.public_id, limit=200)
    read = 0
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if Message._meta.db_table not in query["sql"]:
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            plan = cursor.fetchone()[0]
            read += _rows_read((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])

    assert [row.content for row in rows] == ["one", "two", "three"]
    # What it returns (and its re-read by id) and the message ``after`` names, nothing else.
    assert read <= 2 * len(wanted) + 1
