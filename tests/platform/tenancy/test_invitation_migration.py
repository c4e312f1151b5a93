"""The Invitation model moved from dashboards into tenancy: its rows move with it (ids and keys kept)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("tenancy", "0002_alter_membership_options_apitoken_auditevent"), ("dashboards", "0001_initial")]
AFTER = [("tenancy", "0003_invitation"), ("dashboards", "0003_delete_invitation")]


@pytest.mark.django_db(transaction=True)
def test_invitation_rows_move_from_dashboards_to_tenancy():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        org = old.get_model("tenancy", "Organisation").objects.create(name="Moving", slug="moving")
        Old = old.get_model("dashboards", "Invitation")
        kept = Old.objects.create(organisation_id=org.pk, role="clinician", note="for ann", key_hash="a" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        New = executor.loader.project_state(AFTER).apps.get_model("tenancy", "Invitation")
        moved = New.objects.get(pk=kept.pk)
        assert (moved.organisation_id, moved.role, moved.note, moved.key_hash, moved.username) == \
            (org.pk, "clinician", "for ann", "a" * 64, "")
        fresh = New.objects.create(organisation_id=org.pk, role="viewer", key_hash="b" * 64,
                                   expires_at=timezone.now())  # the id sequence follows the copied rows
        assert fresh.pk > kept.pk
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
