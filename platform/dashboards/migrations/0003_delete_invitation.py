"""Invitations moved to tenancy (``tenancy.0003_invitation`` copied the rows first)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("dashboards", "0002_delete_predictorcard"),
        ("tenancy", "0003_invitation"),
    ]

    operations = [migrations.DeleteModel(name="Invitation")]
