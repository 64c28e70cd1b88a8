"""chat 0002 fills every channel's look-alike key; two existing names that already imitate each
other keep both channels (the later one's key carries its id)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("chat", "0001_initial")]
AFTER = [("chat", "0002_channel_name_key")]


@pytest.mark.django_db(transaction=True)
def test_existing_names_get_their_keys(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("chat", "Channel")
    sax = old.objects.create(name="Sax")
    imitation = old.objects.create(name="\u0455\u0430\u0445")  # wholly Cyrillic "sax"
    jazz = old.objects.create(name="\uff2a\uff41\uff5a\uff5a")  # fullwidth "Jazz"

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("chat", "Channel")

    assert dict(new.objects.values_list("pk", "name_key")) == {
        sax.pk: "sax",
        imitation.pk: f"sax#{imitation.pk}",
        jazz.pk: "jazz",
    }
