"""Pages enter the SAME organisation scope as the API (``tenancy.scope``) for the whole view, templates
included (views render eagerly inside it). Objects are looked up through the scoped managers, so another
organisation's object is simply not found: 404, never 403.

Organisation of a page request: the one chosen with the switcher (remembered in the session under the
API's key, so the API and the pages agree), else the user's first membership.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from tenancy.api.base import SESSION_ORG_KEY
from tenancy.audit import Actor
from tenancy.models import Membership, role_can
from tenancy.scope import organisation_scope


def memberships_of(user):
    return list(Membership.unscoped.select_related("organisation").filter(user=user)
                .order_by("organisation__name", "organisation_id"))


def page(perm: str):
    """Decorator of every dashboards view: login, organisation, scope, role.

    Sets ``request.organisation``, ``request.organisation_role``, ``request.memberships`` and
    ``request.actor`` (for the action functions)."""

    def deco(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            memberships = memberships_of(request.user)
            if not memberships:
                return render(request, "dashboards/no_organisation.html", status=403)
            chosen = request.session.get(SESSION_ORG_KEY)
            m = next((m for m in memberships if m.organisation_id == chosen), memberships[0])
            request.organisation, request.organisation_role = m.organisation, m.role
            request.memberships = memberships
            request.actor = Actor(user=request.user, role=m.role)
            if not role_can(m.role, perm):
                raise PermissionDenied(f"your role ({m.role}) may not {perm.replace('_', ' ')}")
            with organisation_scope(m.organisation):
                return view(request, *args, **kwargs)

        return wrapped

    return deco
