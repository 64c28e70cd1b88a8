"""Channel names are unique by their look-alike key (``display_text_key``), not by case alone:
the key column is added, filled from every name, and takes over the case-insensitive rule."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from musicbud.display_text import display_text_key


def fill_name_keys(apps: Any, schema_editor: Any) -> None:
    # A key two existing channels share (names that already imitated each other) stays unique
    # by the later channel's id; renaming the channel gives it its own key again.
    Channel = apps.get_model("chat", "Channel")
    taken: set[str] = set()
    for channel in Channel.objects.order_by("id").only("id", "name").iterator():
        key = display_text_key(channel.name)
        if key in taken:
            key = f"{key}#{channel.pk}"
        taken.add(key)
        Channel.objects.filter(pk=channel.pk).update(name_key=key)


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=160),
            preserve_default=False,
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop, elidable=True),
        migrations.RemoveConstraint(model_name="channel", name="chat_channel_name_ci_unique"),
        migrations.AlterField(
            model_name="channel",
            name="name_key",
            field=models.CharField(editable=False, max_length=160, unique=True),
        ),
    ]
