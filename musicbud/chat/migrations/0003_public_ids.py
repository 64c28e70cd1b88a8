"""Public ids for channels, conversations, messages and memberships: added empty, filled for
the rows that exist (one id each), then required and unique."""

import uuid

from django.db import migrations, models

MODELS = ("channel", "conversation", "message", "membership")
BATCH = 2_000


def public_ids_fill(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("chat", name)
        while True:
            rows = list(model.objects.filter(public_id__isnull=True).only("pk")[:BATCH])
            if not rows:
                break
            for row in rows:
                row.public_id = uuid.uuid4()
            model.objects.bulk_update(rows, ["public_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0002_channel_name_key"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="public_id",
                field=models.UUIDField(editable=False, null=True),
            )
            for name in MODELS
        ),
        migrations.RunPython(public_ids_fill, migrations.RunPython.noop, elidable=True),
        *(
            migrations.AlterField(
                model_name=name,
                name="public_id",
                field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
            )
            for name in MODELS
        ),
    ]
