"""Invitations moved to tenancy (``tenancy.0003_invitation`` copied the rows first)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("dashboards", "0001_initial"),
        ("tenancy", "0003_invitation"),
    ]

    operations = [migrations.DeleteModel(name="Invitation")]
