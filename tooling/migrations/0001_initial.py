# DemoDataset, moved here from musicbud: the model takes over the table musicbud 0003 created
# (state only), then renames it to this app's name, keeping its row.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('musicbud', '0006_demo_dataset_to_tooling'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DemoDataset',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('params', models.CharField(max_length=200)),
                        ('completed_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'musicbud_demodataset',
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(
            name='demodataset',
            table=None,
        ),
    ]
