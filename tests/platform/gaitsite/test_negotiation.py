"""gaitsite.negotiation.ContentNegotiation picks what DRF's negotiation picks, for every Accept header."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from gaitsite.negotiation import ContentNegotiation
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request

ACCEPTS = [None, "*/*", "application/json", "", "application/json; indent=4", "text/html", "text/html,*/*;q=0.8",
           "application/*", "application/xml", "application/json, text/html", " application/json", "*/*; q=0.5",
           "application/vnd.oai.openapi"]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query,suffix", [("", None), ("format=api", None), ("", "json"), ("", "api")])
def test_same_choice_as_drf(accept, query, suffix):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(RequestFactory().get(f"/api/v1/sessions/?{query}", **extra))
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]

    def pick(negotiation):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
        except NotAcceptable:
            return "406"
        return type(renderer), media_type

    assert pick(ContentNegotiation()) == pick(DefaultContentNegotiation())


def test_the_api_uses_it(settings):
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is ContentNegotiation
