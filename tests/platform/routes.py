"""The API's routes, read from the URL configuration (so tests cover new routes automatically)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
SUMMARY: list[str] = []  # lines the platform conftest prints at the end of the run


@dataclass
class Route:
    path: str  # e.g. "api/v1/cohorts/<pk>/"
    name: str  # URL name inside the v1 namespace
    view: object
    methods: tuple[str, ...]  # HTTP methods the route answers
    detail: bool
    model: type | None
    platform: bool = False  # a platform-staff route (tenancy.api.platform.PlatformViewSet), not a tenant one

    @property
    def openapi_path(self) -> str:
        return "/" + self.path.replace("<pk>", "{id}")


def _pattern_str(p) -> str:
    s = str(p.pattern)
    s = s.lstrip("^").rstrip("$").replace("\\Z", "")
    s = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", s)
    s = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", s)
    return s.replace("\\.", ".")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + _pattern_str(p))
        elif isinstance(p, URLPattern):
            yield prefix + _pattern_str(p), p


def api_routes() -> list[Route]:
    routes = []
    for path, pattern in _walk(get_resolver().url_patterns):
        if not path.startswith(API_PREFIX) or "<format>" in path:
            continue
        cb = pattern.callback
        cls = getattr(cb, "cls", None)
        actions = getattr(cb, "actions", None)
        if actions:
            methods = tuple(m for m in METHODS if m in actions)
        else:
            methods = tuple(m for m in METHODS if hasattr(cls, m))
        routes.append(Route(path=path, name=pattern.name, view=cls, methods=methods, detail="<pk>" in path,
                            model=getattr(cls, "model", None), platform=bool(getattr(cls, "platform", False))))
    return routes
