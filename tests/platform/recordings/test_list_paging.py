"""Session list pages past the first are found by a deferred join (``gaitsite.api.Pagination``) and lists
without filter parameters skip django-filter (``gaitsite.api.FilterBackend``): both must answer exactly
what one plain query answers, for one organisation only, in a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

from cohorts.models import Cohort, Subject
from django.utils import timezone
from recordings.models import GaitSession, SessionStatus
from tenancy.models import Role

from tests.platform.base import APITestBase, count_queries

N = 23


class SessionListPagingTest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        t0 = timezone.now() - timedelta(days=1)
        for org, n in ((cls.org, N), (cls.other, 9)):
            with cls.scope_of(org):
                cohort = Cohort.objects.create(name="c")
                subjects = [Subject.objects.create(cohort=cohort, external_id=f"S{org.pk}-{i}", birth_year=1960 + i,
                                                   sex="female") for i in range(3)]
                sessions = GaitSession.objects.bulk_create([
                    GaitSession(subject=subjects[k % 3], sensor="synthetic", tasks=["walk_in_place"], n_frames=90 + k,
                                duration_s=float(100 - k), file_key=f"k/{k}", sha256=f"{k:064x}",
                                status=SessionStatus.DONE if k % 3 else SessionStatus.FAILED)
                    for k in range(n)])
                # ties on created_at (the id breaks them) and an order unlike the ids'
                for k, s in enumerate(sessions):
                    GaitSession.objects.filter(pk=s.pk).update(created_at=t0 + timedelta(minutes=(k * 7) % 5))

    @staticmethod
    def scope_of(org):
        from tenancy.scope import organisation_scope

        return organisation_scope(org)

    def pages(self, client, limit: int, **params) -> list[list[dict]]:
        out = []
        for offset in range(0, N + limit, limit):
            r = client.get(self.url("session-list"), {"limit": limit, "offset": offset, **params})
            self.assertEqual(r.status_code, 200, r.content)
            out.append(r.json()["results"])
        return out

    def test_every_page_is_the_plain_querys_slice(self):
        client = self.client_for(Role.VIEWER)
        for params in ({}, {"ordering": "-duration_s"}, {"ordering": "n_frames"}, {"status": "done"}):
            whole = client.get(self.url("session-list"), {"limit": 1000, **params}).json()  # offset 0: one query
            rows = whole["results"]
            self.assertEqual(whole["count"], len(rows))
            self.assertEqual(len(rows), N if "status" not in params else sum(1 for k in range(N) if k % 3))
            for limit in (5, 7):
                pages = self.pages(client, limit, **params)
                for i, page in enumerate(pages):
                    self.assertEqual(page, rows[i * limit:(i + 1) * limit], (params, limit, i))
            self.assertTrue(all(r["subject_external_id"].startswith(f"S{self.org.pk}-") for r in rows))
        plain = [r["id"] for r in client.get(self.url("session-list"), {"limit": 1000}).json()["results"]]
        with self.scope():
            self.assertEqual(plain, list(GaitSession.objects.order_by("-created_at", "-id").values_list("pk", flat=True)))

    def test_pages_past_the_first_take_a_constant_number_of_queries(self):
        client = self.client_for(Role.VIEWER)
        url = self.url("session-list")
        small = count_queries(lambda: self.assertEqual(client.get(url, {"limit": 2, "offset": 5}).status_code, 200))
        large = count_queries(lambda: self.assertEqual(client.get(url, {"limit": 12, "offset": 5}).status_code, 200))
        self.assertEqual(small, large)

    def test_unfiltered_and_unknown_parameters_answer_as_before(self):
        client = self.client_for(Role.VIEWER)
        url = self.url("session-list")
        base = client.get(url, {"limit": 1000}).json()
        self.assertEqual(client.get(url, {"limit": 1000, "unknown": "x"}).json(), base)  # through django-filter
        self.assertEqual(client.get(url, {"limit": 1000, "status": ""}).json(), base)
        self.assertError(client.get(url, {"status": "nonsense"}), 400)
        self.assertEqual(client.get(url, {"status": "failed"}).json()["count"], sum(1 for k in range(N) if k % 3 == 0))
        other = self.client_for(Role.OWNER, org=self.other).get(url, {"limit": 1000, "offset": 3}).json()
        self.assertEqual(other["count"], 9)
        self.assertTrue(all(r["subject_external_id"].startswith(f"S{self.other.pk}-") for r in other["results"]))

    def test_a_page_past_the_first_is_fetched_by_one_array_of_ids(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.client_for(Role.VIEWER)
        texts = []
        for limit in (2, 12):
            with CaptureQueriesContext(connection) as ctx:
                self.assertEqual(client.get(self.url("session-list"), {"limit": limit, "offset": 5}).status_code, 200)
            rows = [q["sql"] for q in ctx.captured_queries if "subject_external_id" in q["sql"]]
            self.assertEqual(len(rows), 1)
            texts.append(rows[0])
        if connection.vendor == "postgresql":  # one array parameter: the same query text for every page size
            self.assertTrue(all("= ANY(" in t and " IN (" not in t for t in texts), texts)

    def test_pages_of_an_ordering_on_a_non_unique_field_cover_every_row_once(self):
        """``?ordering=status`` has ties (two statuses over 23 sessions): the primary key is appended in the
        last field's direction, so pages neither repeat nor skip rows."""
        client = self.client_for(Role.VIEWER)
        expected_order = {
            "status": lambda r: (r["status"], r["id"]),
            "-status": lambda r: (_desc(r["status"]), -r["id"]),
        }
        for ordering, key in expected_order.items():
            rows = [r for page in self.pages(client, 4, ordering=ordering) for r in page]
            ids = [r["id"] for r in rows]
            self.assertEqual(len(ids), N, ordering)
            self.assertEqual(len(set(ids)), N, f"{ordering}: a row on two pages")
            self.assertEqual(ids, [r["id"] for r in sorted(rows, key=key)], ordering)


    def test_a_requested_ordering_ends_in_the_primary_key(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.client_for(Role.VIEWER)
        for ordering, tail in (("status", '"id" ASC'), ("-status", '"id" DESC'), ("-duration_s,status", '"id" ASC')):
            for offset in (0, 4):
                with CaptureQueriesContext(connection) as ctx:
                    r = client.get(self.url("session-list"), {"ordering": ordering, "limit": 4, "offset": offset})
                    self.assertEqual(r.status_code, 200, r.content)
                pages = [q["sql"] for q in ctx.captured_queries if "subject_external_id" in q["sql"]]
                self.assertEqual(len(pages), 1)
                order_by = _outer_order_by(pages[0])
                self.assertTrue(order_by.endswith(tail), (ordering, offset, order_by))


def _outer_order_by(sql: str) -> str:
    """The statement's last ORDER BY, a position (``ORDER BY 11 ASC``: how Django refers to a selected
    column) replaced by that column of the outer SELECT list."""
    columns = sql.split("SELECT ", 1)[1].split(" FROM ", 1)[0].split(", ")
    terms = sql.rsplit("ORDER BY", 1)[1].split("LIMIT")[0].strip().split(", ")
    named = []
    for term in terms:
        first, _, direction = term.partition(" ")
        named.append(f"{columns[int(first) - 1]} {direction}" if first.isdigit() else term)
    return ", ".join(named)

def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
