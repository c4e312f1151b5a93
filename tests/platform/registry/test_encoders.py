"""Platform-level rows: encoder registration is audited without an organisation; a tenant row that
cannot be global still refuses to save outside a scope."""

from __future__ import annotations

import pytest
from django.test import TestCase
from rest_framework.exceptions import ValidationError


class EncoderRegistrationTest(TestCase):
    def test_register_is_idempotent_refuses_other_weights_and_writes_a_platform_audit_event(self):
        from registry.actions import register_encoder
        from registry.models import EncoderVersion
        from tenancy.audit import Actor
        from tenancy.models import AuditEvent

        shipped = EncoderVersion.objects.get(status="active")
        assert shipped.artifact_uri == "gaitcore/model/checkpoints/gaitmae-small.pt"
        kw = dict(version_tag="gaitmae/1:tiny:t-step300", config_name="tiny", weights_digest="abcd1234",
                  artifact_uri="file:///store/jobs/1/model.pt", parent=shipped)
        enc = register_encoder(Actor.system(), **kw)
        assert enc.status == "candidate" and enc.parent == shipped
        assert register_encoder(Actor.system(), **kw).pk == enc.pk
        with pytest.raises(ValidationError, match="other weights"):
            register_encoder(Actor.system(), **{**kw, "weights_digest": "ffff0000"})
        events = AuditEvent.unscoped.filter(action="encoder.register")
        assert [(e.organisation_id, e.object_id) for e in events] == [(None, str(enc.pk))]

    def test_a_row_that_always_has_an_organisation_cannot_be_made_global(self):
        from tenancy.models import Membership
        from tenancy.scope import NoOrganisationScope

        with pytest.raises(NoOrganisationScope):
            Membership.for_platform()
