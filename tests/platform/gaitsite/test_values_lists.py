"""Lists rendered from ``values()`` (``tenancy.api.base.ValuesListMixin``) answer, row for row, what the
serializer answers for the same object's detail: the same keys in the same order, the same values
(datetimes with and without microseconds, nulls, JSON, a foreign key by id)."""

from __future__ import annotations

import datetime as dt

from cohorts.models import Subject
from django.urls import get_resolver
from recordings.models import GaitSession
from tenancy.api.base import ValuesListMixin
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import seed_everything

CASES = {"session": GaitSession, "subject": Subject}  # route basename -> model


def _values_list_viewsets() -> set[type]:
    found, todo = set(), list(get_resolver().url_patterns)
    while todo:
        p = todo.pop()
        if hasattr(p, "url_patterns"):
            todo += p.url_patterns
        elif issubclass(getattr(p.callback, "cls", object), ValuesListMixin):
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
        self.assertEqual({v.model for v in _values_list_viewsets()}, set(CASES.values()))

    def test_list_rows_are_the_details(self):
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
                    self.assertEqual(list(row.items()), list(detail.json().items()), (name, params))
