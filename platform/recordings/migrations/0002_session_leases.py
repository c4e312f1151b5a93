"""Session leases, the message outbox and the current step (recordings.dispatch, workers.leases)."""

import uuid

from django.db import migrations, models


def steps_of_existing(apps, schema_editor):
    # final sessions have no next step; active ones restart from validation: their message goes to the
    # outbox, and the workers' sweeper sends it
    GaitSession = apps.get_model("recordings", "GaitSession")
    GaitSession.objects.filter(status__in=["done", "failed"]).update(step="")
    for pk in GaitSession.objects.exclude(status__in=["done", "failed"]).values_list("pk", flat=True):
        GaitSession.objects.filter(pk=pk).update(task_id=str(uuid.uuid4()), status="uploaded",
                                                 status_reason="queued for checking the recording")


class Migration(migrations.Migration):
    dependencies = [("recordings", "0001_initial")]

    operations = [
        migrations.AddField("gaitsession", "step", models.CharField(blank=True, default="validate", max_length=16)),
        migrations.AddField("gaitsession", "lease_owner", models.CharField(blank=True, max_length=64)),
        migrations.AddField("gaitsession", "lease_until", models.DateTimeField(blank=True, null=True)),
        migrations.AddField("gaitsession", "task_id", models.CharField(blank=True, max_length=64)),
        migrations.AddField("gaitsession", "sent_at", models.DateTimeField(blank=True, null=True)),
        migrations.AddField("gaitsession", "model_version", models.CharField(blank=True, max_length=120)),
        migrations.RunPython(steps_of_existing, migrations.RunPython.noop),
    ]
