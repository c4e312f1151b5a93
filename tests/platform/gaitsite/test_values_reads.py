"""Reads rendered from ``values()`` (``tenancy.api.base.ValuesReadMixin``) answer, list row and detail
alike, what the resource's serializer answers for the same object (as in the responses of writes):
the same keys in the same order, the same values (datetimes with and without microseconds, in
another offset, nulls, JSON, a foreign key by id)."""

from __future__ import annotations

import datetime as dt
import json

from cohorts.api.serializers import SubjectSerializer
from cohorts.models import Subject
from django.urls import get_resolver
from recordings.api.serializers import GaitSessionSerializer
from recordings.models import GaitSession
from rest_framework.renderers import JSONRenderer
from tenancy.api.base import ValuesReadMixin
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import seed_everything

CASES = {"session": (GaitSession, GaitSessionSerializer), "subject": (Subject, SubjectSerializer)}  # by route basename


def _values_read_viewsets() -> set[type]:
    found, todo = set(), list(get_resolver().url_patterns)
    while todo:
        p = todo.pop()
        if hasattr(p, "url_patterns"):
            todo += p.url_patterns
        elif issubclass(getattr(p.callback, "cls", object), ValuesReadMixin):
            found.add(p.callback.cls)
    return found


class ValuesListTest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mine = seed_everything(cls.org, "a", n_sessions=3)
        seed_everything(cls.other, "b", n_sessions=2)
        with cls.scope_of(cls.org):
            first, second, _ = cls.mine["gaitsession"]
            GaitSession.objects.filter(pk=first.pk).update(
                recorded_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), status="failed", status_reason="bad file",
                processed_at=dt.datetime(2026, 3, 1, 9, 31, 5, 123456, tzinfo=dt.UTC), attempts=2, tasks=[])
            GaitSession.objects.filter(pk=second.pk).update(
                recorded_at=dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=5))))
            Subject.objects.create(cohort=cls.mine["cohort"][0], external_id="SUBJ-h", birth_year=1950, sex="male",
                                   height_cm=171.5, weight_kg=70.25, consent_model_training=True)

    @staticmethod
    def scope_of(org):
        from tenancy.scope import organisation_scope

        return organisation_scope(org)

    def test_every_values_list_is_covered_here(self):
        self.assertEqual({(v.model, v.serializer_class) for v in _values_read_viewsets()}, set(CASES.values()))

    def serialized(self, name: str, pk) -> list:
        model, serializer = CASES[name]
        with self.scope_of(self.org):
            data = serializer(model.objects.get(pk=pk)).data
        return list(json.loads(JSONRenderer().render(data)).items())

    def test_reads_answer_what_the_serializer_answers(self):
        client = self.client_for(Role.VIEWER)
        for name in CASES:
            for params in ({}, {"limit": 1, "offset": 1}, {"ordering": "-created_at"}):
                r = client.get(self.url(f"{name}-list"), params)
                self.assertEqual(r.status_code, 200, r.content)
                rows = r.json()["results"]
                self.assertTrue(rows, name)
                for row in rows:
                    detail = client.get(self.url(f"{name}-detail", pk=row["id"]))
                    self.assertEqual(detail.status_code, 200)
                    expected = self.serialized(name, row["id"])
                    self.assertEqual(list(row.items()), expected, (name, params))
                    self.assertEqual(list(detail.json().items()), expected, (name, params))

    def test_another_organisations_object_or_a_bad_id_is_404(self):
        client = self.client_for(Role.VIEWER)
        with self.scope_of(self.other):
            theirs = {"session": GaitSession.objects.first().pk, "subject": Subject.objects.first().pk}
        for name, pk in theirs.items():
            for bad in (pk, 10**9, "x"):
                r = client.get(f"{self.url(name + '-list')}{bad}/")
                self.assertError(r, 404)
