"""chat 0003 gives every channel, conversation, message and membership that existed a public id
of its own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory

BEFORE = [("chat", "0002_channel_name_key")]
AFTER = [("chat", "0003_public_ids")]


@pytest.mark.django_db(transaction=True)
def test_existing_chat_rows_get_distinct_public_ids(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    # The users' table is today's (only chat went back): rows by id.
    ana, ben = (UserFactory.create(username=name).pk for name in ("ana", "ben"))
    channel = old.get_model("chat", "Channel").objects.create(
        name="jazz", name_key="jazz", creator_id=ana
    )
    old.get_model("chat", "Membership").objects.create(channel=channel, user_id=ana, state="active")
    conversation = old.get_model("chat", "Conversation").objects.create(
        user_low_id=min(ana, ben), user_high_id=max(ana, ben)
    )
    messages = old.get_model("chat", "Message")
    for index in range(3):
        messages.objects.create(channel=channel, author_id=ana, content=f"c{index}")
    messages.objects.create(conversation=conversation, author_id=ben, content="direct")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps

    ids = []
    for name in ("Channel", "Conversation", "Message", "Membership"):
        ids += list(new.get_model("chat", name).objects.values_list("public_id", flat=True))
    assert len(ids) == 1 + 1 + 4 + 1
    assert None not in ids
    assert len(set(ids)) == len(ids)
    # New rows get one by default.
    created = new.get_model("chat", "Channel").objects.create(name="blues", name_key="blues")
    assert created.public_id is not None
    assert created.public_id not in ids
