# DemoDataset moved to the tooling app (development only). State only: the table stays, so a
# production database, where tooling is not installed, is left exactly as it was; tooling's
# 0001 adopts the table (and its row) wherever tooling is installed.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('musicbud', '0005_user_location'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='DemoDataset',
                ),
            ],
        ),
    ]
