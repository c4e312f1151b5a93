"""The Invitation model moves from dashboards into tenancy (rows copied, ids kept); it gains ``username``."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_from_dashboards(apps, schema_editor):
    try:
        Old = apps.get_model("dashboards", "Invitation")
    except LookupError:
        return
    New = apps.get_model("tenancy", "Invitation")
    fields = ["id", "organisation_id", "note", "role", "key_hash", "created_by_id", "created_at", "expires_at",
              "accepted_at", "accepted_by_id", "revoked_at"]
    New.objects.bulk_create([New(**{f: getattr(o, f) for f in fields}) for o in Old.objects.all()])
    if schema_editor.connection.vendor == "postgresql" and New.objects.exists():
        with schema_editor.connection.cursor() as cur:
            table = New._meta.db_table
            # the table name is the model's own (no input)
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # nosec B608


def copy_back(apps, schema_editor):
    Old = apps.get_model("dashboards", "Invitation")
    New = apps.get_model("tenancy", "Invitation")
    fields = ["id", "organisation_id", "note", "role", "key_hash", "created_by_id", "created_at", "expires_at",
              "accepted_at", "accepted_by_id", "revoked_at"]
    Old.objects.bulk_create([Old(**{f: getattr(o, f) for f in fields}) for o in New.objects.all()])


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0002_alter_membership_options_apitoken_auditevent"),
        ("dashboards", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Invitation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("note", models.CharField(blank=True, help_text="who it is for (an e-mail, a name)", max_length=200)),
                ("username", models.CharField(blank=True, help_text="only this user may accept (blank: anyone)",
                                              max_length=150)),
                ("role", models.CharField(choices=[("owner", "Owner"), ("admin", "Admin"), ("clinician", "Clinician"),
                                                   ("researcher", "Researcher"), ("viewer", "Viewer")],
                                          default="viewer", max_length=16)),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                ("accepted_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("accepted_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                  related_name="+", to=settings.AUTH_USER_MODEL)),
                ("created_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("organisation", models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="+", to="tenancy.organisation")),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.RunPython(copy_from_dashboards, copy_back),
    ]
