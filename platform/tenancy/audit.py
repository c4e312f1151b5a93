"""The audit log writer. Every action function calls ``record`` inside its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import APIToken, AuditEvent
from .scope import current_organisation


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (web session or token owner), a token, or the system (workers, commands)."""

    user: Any = None
    token: APIToken | None = None
    role: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(role="system")

    @classmethod
    def from_request(cls, request) -> Actor:
        token = request.auth if isinstance(getattr(request, "auth", None), APIToken) else None
        user = request.user if getattr(request.user, "pk", None) is not None else None
        return cls(user=user, token=token, role=getattr(request, "organisation_role", ""))


def _fields(actor: Actor, action: str, obj: Any, data: dict) -> dict:
    return {"actor_user": actor.user, "actor_token": actor.token, "action": action,
            "object_type": obj._meta.model_name if obj is not None and hasattr(obj, "_meta") else "",
            "object_id": str(getattr(obj, "pk", "") or "") if obj is not None else "",
            "object_repr": str(obj)[:200] if obj is not None else "", "data": data}


def record(actor: Actor, action: str, obj: Any = None, **data: Any) -> AuditEvent:
    return AuditEvent.objects.create(organisation=current_organisation(), **_fields(actor, action, obj, data))


def record_platform(actor: Actor, action: str, obj: Any = None, **data: Any) -> AuditEvent:
    """A platform-level event (no organisation): staff actions on global objects such as encoders."""
    event = AuditEvent.for_platform(**_fields(actor, action, obj, data))
    event.save()
    return event
