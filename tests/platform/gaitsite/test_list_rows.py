"""gaitsite.api.list_rows: list pages read as named-tuple rows (no model instances) answer byte for byte
what the same serializers render from model instances, for one organisation only; serializers that need
an instance keep getting instances."""

from __future__ import annotations

import datetime as dt

from cohorts.api.serializers import SubjectSerializer
from cohorts.models import Cohort, Subject
from django.db.models import F
from gaitsite.api import RowIterable, list_rows
from recordings.api.serializers import GaitSessionSerializer
from recordings.models import GaitSession, SessionStatus
from rest_framework.renderers import JSONRenderer
from tenancy.api.serializers import APITokenSerializer, AuditEventSerializer, MembershipSerializer
from tenancy.models import APIToken, AuditEvent, Membership, Role

from tests.platform.base import APITestBase

UTC = dt.UTC


class ListRowsTest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for org, tag in ((cls.org, "a"), (cls.other, "b")):
            with cls.scope_of(org):
                cohort = Cohort.objects.create(name=f"c-{tag}")
                subjects = [
                    Subject.objects.create(cohort=cohort, external_id=f"{tag}-{i}", birth_year=1950 + i, sex="female",
                                           height_cm=None if i % 2 else 171.5, weight_kg=70.25 if i % 2 else None,
                                           consent_research=bool(i % 2))
                    for i in range(4)]
                for k in range(7):
                    GaitSession.objects.create(
                        subject=subjects[k % 4], sensor="azure_kinect", tasks=["walk_in_place", "ünïcode"][: 1 + k % 2],
                        n_frames=90 + k, duration_s=3.0 + k / 3, file_key=f"k/{tag}{k}", file_size=2**40 + k,
                        sha256=f"{k:064x}", status=SessionStatus.FAILED if k % 3 == 0 else SessionStatus.DONE,
                        status_reason="too short: 7 s" if k % 3 == 0 else "", attempts=k % 2,
                        recorded_at=dt.datetime(2026, 3, 29, 0, 59, 59, 999999 - k, tzinfo=UTC) if k % 2 else None,
                        processed_at=dt.datetime(2026, 11, 24, 8, k, tzinfo=UTC) if k % 3 else None)

    @staticmethod
    def scope_of(org):
        from tenancy.scope import organisation_scope

        return organisation_scope(org)

    def rendered_from_instances(self, serializer_class, objects, response) -> bytes:
        body = response.json()
        data = {"count": body["count"], "next": body["next"], "previous": body["previous"],
                "results": serializer_class(objects, many=True).data}
        return JSONRenderer().render(data)

    def test_session_pages_are_byte_identical_to_instances(self):
        client = self.client_for(Role.VIEWER)
        for params in ({"limit": 50}, {"limit": 3, "offset": 2}, {"limit": 2, "offset": 4, "ordering": "-duration_s"},
                       {"status": "failed"}):
            r = client.get(self.url("session-list"), params)
            self.assertEqual(r.status_code, 200)
            ids = [row["id"] for row in r.json()["results"]]
            self.assertTrue(ids)
            with self.scope():
                by_id = GaitSession.objects.select_related("subject").in_bulk(ids)
                self.assertEqual(self.rendered_from_instances(GaitSessionSerializer, [by_id[i] for i in ids], r),
                                 r.content, params)
            for row in r.json()["results"]:  # and each row is its detail response
                self.assertEqual(client.get(self.url("session-detail", pk=row["id"])).json(), row)
        with self.scope(self.other):
            theirs = set(GaitSession.objects.values_list("pk", flat=True))
        self.assertFalse(theirs & {row["id"] for row in client.get(self.url("session-list")).json()["results"]})

    def test_subject_pages_are_byte_identical_to_instances(self):
        client = self.client_for(Role.VIEWER)
        r = client.get(self.url("subject-list"), {"limit": 50})
        ids = [row["id"] for row in r.json()["results"]]
        self.assertEqual(len(ids), 4)
        with self.scope():
            by_id = Subject.objects.in_bulk(ids)
            self.assertEqual(self.rendered_from_instances(SubjectSerializer, [by_id[i] for i in ids], r), r.content)

    def test_row_mode_is_used_where_it_can_be(self):
        with self.scope():
            sessions = GaitSession.objects.annotate(subject_external_id=F("subject__external_id"))
            rows = list_rows(sessions, GaitSessionSerializer)
            self.assertIs(rows._iterable_class, RowIterable)
            self.assertIs(list_rows(Subject.objects.all(), SubjectSerializer)._iterable_class, RowIterable)
            # the session serializer's method field reads the list's annotation: without it, instances
            self.assertIs(list_rows(GaitSession.objects.all(), GaitSessionSerializer)._iterable_class,
                          GaitSession.objects.all()._iterable_class)
            for unsuitable in (sessions.select_related("subject"), sessions.only("id", "subject_id"),
                               sessions.values("id"), sessions.extra(select={"one": "1"})):
                self.assertIsNot(list_rows(unsuitable, GaitSessionSerializer)._iterable_class, RowIterable)
            sessions.count_source = GaitSession.objects.all()
            self.assertIs(list_rows(sessions, GaitSessionSerializer).count_source, sessions.count_source)

    def test_serializers_needing_instances_keep_them(self):
        with self.scope():
            for model, serializer in ((APIToken, APITokenSerializer),  # is_active: a property; created_by.username
                                      (AuditEvent, AuditEventSerializer),  # an undeclared method field
                                      (Membership, MembershipSerializer)):  # user.username
                qs = model.objects.all()
                self.assertIs(list_rows(qs, serializer), qs, serializer)


def test_utc_iso_is_drfs_datetime_format():
    import zoneinfo

    from gaitsite.api import _utc_iso
    from rest_framework import serializers

    drf = serializers.DateTimeField()
    for value in (dt.datetime(2026, 11, 24, 8, 16, tzinfo=UTC), dt.datetime(2026, 11, 24, 8, 16, 0, 5, tzinfo=UTC),
                  dt.datetime(2026, 3, 29, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
                  dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30)))):
        assert _utc_iso(value) == drf.to_representation(value), value


class CompiledPlanTest(APITestBase):
    def test_compiled_plan_equals_the_field_loop(self):
        from gaitsite.api import FastReadMixin

        from tests.platform.factories import seed_everything

        seed_everything(self.org, "p", n_sessions=2)
        with self.scope():
            objects = {GaitSessionSerializer: GaitSession.objects.annotate(subject_external_id=F("subject__external_id")),
                       SubjectSerializer: Subject.objects.all(),
                       APITokenSerializer: APIToken.objects.all(),  # created_by None: a dotted source falls back
                       AuditEventSerializer: AuditEvent.objects.all(),
                       MembershipSerializer: Membership.objects.all()}
            for serializer_class, qs in objects.items():
                serializer = serializer_class()
                serializer._plan()
                self.assertIsNotNone(FastReadMixin._render_cache.get(serializer_class), serializer_class)
                for obj in qs:
                    self.assertEqual(list(serializer.to_representation(obj).items()),
                                     list(serializer._represent_by_field(obj).items()))
            self.assertTrue(any(t.created_by_id is None for t in APIToken.objects.all()))
