"""gaitsite.api.Pagination's next/previous links are exactly DRF's (built from one parse of the URL)."""

from __future__ import annotations

import itertools

import pytest
from django.test import RequestFactory
from gaitsite.api import Pagination
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

QUERIES = [
    "", "limit=50", "limit=50&offset=100", "offset=100&limit=50&status=done", "status=done&status=failed&limit=7",
    "ordering=-created_at&limit=5&offset=5", "limit=5&offset=3", "limit=5&offset=5", "limit=5&offset=0",
    "subject=&limit=2&offset=4", "q=a+b&q2=a%20b&limit=3&offset=9", "name=%C3%BCnic%C3%B6de&limit=3&offset=3",
    "bad=%ZZ&x=%FF&limit=3&offset=6", "flag&limit=3&offset=6", "a=1;b=2&limit=3&offset=6", "limit=abc&offset=-1",
    "limit=100000&offset=20", "offset=7", "offset=2&limit=5&offset=9",
]


class DRFPagination(LimitOffsetPagination):
    default_limit, max_limit = Pagination.default_limit, Pagination.max_limit


@pytest.mark.parametrize("host,path", [("testserver", "/api/v1/sessions/"), ("gait.example.org:8443", "/api/v1/süb/")])
def test_links_are_drfs(settings, host, path):
    settings.ALLOWED_HOSTS = ["testserver", "gait.example.org"]
    rf = RequestFactory()
    for query, count in itertools.product(QUERIES, (0, 4, 5, 9, 10, 23, 2000)):
        ours, drf = Pagination(), DRFPagination()
        for pager in (ours, drf):
            request = Request(rf.get(f"{path}?{query}", HTTP_HOST=host))
            pager.request, pager.limit = request, pager.get_limit(request)
            pager.offset, pager.count = pager.get_offset(request), count
        assert (ours.get_next_link(), ours.get_previous_link()) == (drf.get_next_link(), drf.get_previous_link()), \
            (query, count)
        assert ours.get_next_link() == drf.get_next_link()  # again, from the parse kept for this request
