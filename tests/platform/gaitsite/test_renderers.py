"""gaitsite.renderers.JSONRenderer (orjson) against DRF's JSONRenderer: the same values, DRF's formats for
the types it converts itself, and the documented differences."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections import OrderedDict

import pytest
from django.utils.translation import gettext_lazy
from gaitsite.renderers import JSONRenderer
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

UTC = dt.UTC

PAYLOADS = [
    {"count": 3, "next": None, "previous": "http://h/api/v1/sessions/?limit=50", "results": []},
    {"floats": [0.1, 1e-05, 300.0, 1e20, -0.0, 2.5e-300, 123456789.123456789], "ints": [0, -1, 2**63 - 1, -(2**63)]},
    {"text": "Zoë — 心 \"quoted\" \\ back\nslash\ttab \x01", "empty": "", "bools": [True, False, None]},
    {"when": dt.datetime(2026, 11, 24, 10, 11, 12, 123456, tzinfo=UTC), "day": dt.date(2026, 1, 2),
     "naive": dt.datetime(2026, 11, 24, 10, 11, 12), "at": dt.time(9, 30, 15, 250000),
     "offset": dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "span": dt.timedelta(days=1, seconds=5)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "amount": decimal.Decimal("12.50"),
     "lazy": gettext_lazy("Not found."), "detail": ErrorDetail("bad value", code="invalid"),
     "tuple": (1, 2), "ordered": OrderedDict([("b", 1), ("a", 2)])},
    ReturnDict({"x": ReturnList([1, {"y": "z"}], serializer=None)}, serializer=None),
    [1, "two", {"three": [3.0]}],
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_same_values_as_drf(data):
    ours, drf = JSONRenderer().render(data), renderers.JSONRenderer().render(data)
    assert json.loads(ours) == json.loads(drf)


def test_drf_formats_for_the_types_it_converts():
    data = PAYLOADS[3]
    ours, drf = json.loads(JSONRenderer().render(data)), json.loads(renderers.JSONRenderer().render(data))
    assert ours["when"] == drf["when"] == "2026-11-24T10:11:12.123456Z"
    assert ours["at"] == drf["at"] and ours["offset"] == drf["offset"] and ours["span"] == drf["span"]


def test_key_order_and_compactness_as_drf():
    data = {"b": 1, "a": [1, 2], "c": {"z": None}}
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data) == b'{"b":1,"a":[1,2],"c":{"z":null}}'


def test_line_separators_are_escaped_as_drf():
    data = {"s": "a\u2028b\u2029c"}
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_nan_becomes_null():
    assert JSONRenderer().render({"x": float("nan"), "y": float("inf")}) == b'{"x":null,"y":null}'
    with pytest.raises(ValueError):  # DRF's strict mode
        renderers.JSONRenderer().render({"x": float("nan")})


def test_what_orjson_refuses_goes_to_drf():
    data = {"big": 2**70, 3: "non-string key"}
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_indented_output_is_drfs():
    data = {"a": [1, {"b": 2.5}]}
    media = "application/json; indent=4"
    assert JSONRenderer().render(data, media) == renderers.JSONRenderer().render(data, media)
    assert JSONRenderer().render(None) == b""
