"""OpenAPI schema post-processing (drf-spectacular hook): document the API's error answers.

Every operation may answer with the API's error format (``gaitsite.api.exception_handler``):
``{"error": {"status", "code", "message", "details"?}}``. The generator documents only the success
responses; this hook adds the error statuses the platform really returns (validation, authentication,
permission, another organisation's or a missing object, conflicts, size limits, unreadable files,
throttling, an unavailable dependency), each referring to one ``Error`` component, so clients and
schema checkers (schemathesis) see every status they can get.
"""

from __future__ import annotations

ERROR_STATUSES = {
    "400": "The request is invalid (the message and details say which field and why).",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "The token's role (or the user's) may not do this.",
    "404": "No such object in this organisation (another organisation's objects answer the same).",
    "405": "The method is not allowed on this path.",
    "409": "The object's state does not allow this (e.g. an upload already complete, a session busy).",
    "413": "Too large (upload size, chunk size, or an archive that would inflate beyond the limits).",
    "415": "Unsupported media type.",
    "422": "The content is unusable (e.g. a session file that fails validation).",
    "429": "Too many requests; see Retry-After.",
    "503": "A dependency (storage, broker) is unavailable; retry later.",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"type": "integer"},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "details": {},
        },
    }},
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, {"description": description,
                                              "content": {"application/json": {"schema": ref}}})
    return result
