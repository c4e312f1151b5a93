from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import actions, invitations
from ..filtersets import APITokenFilterSet, AuditEventFilterSet, MembershipFilterSet
from ..models import APIToken, AuditEvent, Membership, Perm
from . import serializers as s
from .base import SESSION_ORG_KEY, TenantReadOnlyViewSet, TenantViewSet, resolve_organisation


class MeView(APIView):
    """Who am I, in which organisation (and with which role), and my other memberships."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        org, role = resolve_organisation(request)
        if isinstance(request.auth, APIToken):
            others = [{"organisation": org.slug, "role": role}]
        else:
            others = [{"organisation": m.organisation.slug, "role": m.role}
                      for m in Membership.unscoped.select_related("organisation").filter(user=request.user)]
        return Response({"username": str(request.user.username), "organisation": s.OrganisationSerializer(org).data,
                         "role": role, "memberships": others})

    @extend_schema(request=None, responses=s.MeSerializer)
    def post(self, request):
        """Choose the organisation of this web session (``X-Organisation`` header)."""
        org, _ = resolve_organisation(request)
        if hasattr(request, "session") and not isinstance(request.auth, APIToken):
            request.session[SESSION_ORG_KEY] = org.pk
        return self.get(request)


class OrganisationSettingsViewSet(TenantViewSet):
    """The settings of the request's organisation (``GET`` any member, ``PATCH`` its owner or platform staff):
    ``pooled_pretraining`` lets its consenting subjects' sessions enter the platform's pooled encoder
    pretraining (default off; every change is audited with its reason)."""

    serializer_class = s.OrganisationSettingsSerializer
    write_permission = Perm.READ  # the action itself decides (owner or staff): an admin is refused with the reason

    @extend_schema(responses=s.OrganisationSettingsSerializer)
    def retrieve(self, request):
        return Response(s.OrganisationSettingsSerializer(request.organisation).data)

    @extend_schema(request=s.OrganisationSettingsSerializer, responses=s.OrganisationSettingsSerializer)
    def partial_update(self, request):
        data = s.OrganisationSettingsSerializer(request.organisation, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        org = request.organisation
        if "pooled_pretraining" in data.validated_data:
            org = actions.set_pooled_pretraining(self.actor, org, data.validated_data["pooled_pretraining"],
                                                 data.validated_data.get("reason", ""))
        return Response(s.OrganisationSettingsSerializer(org).data)


class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                        mixins.DestroyModelMixin, TenantViewSet):
    model = Membership
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilterSet
    select_related = ("user",)
    write_permission = Perm.MANAGE_MEMBERS
    ordering_fields = ["created_at", "role"]

    @extend_schema(request=s.MembershipCreateSerializer, responses={202: s.InvitationCreatedSerializer})
    def create(self, request):
        """Invite a user (by username) with a role: 202 with a one-time link. Nobody is added until they
        accept; the answer is the same whether or not the name exists (no enumeration)."""
        data = s.MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        inv, raw = invitations.create_invitation(self.actor, **data.validated_data)
        inv.link = request.build_absolute_uri(reverse("dashboards:invite", args=[raw]))
        return Response(s.InvitationCreatedSerializer(inv).data, status=status.HTTP_202_ACCEPTED)

    def perform_update(self, serializer):
        actions.change_role(self.actor, serializer.instance, serializer.validated_data.get("role", serializer.instance.role))

    def perform_destroy(self, instance):
        actions.remove_member(self.actor, instance)


class APITokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Organisation API tokens. The secret appears once, in the creation response."""

    model = APIToken
    serializer_class = s.APITokenSerializer
    filterset_class = APITokenFilterSet
    select_related = ("created_by",)
    write_permission = Perm.MANAGE_TOKENS
    permissions_by_action = {"list": Perm.MANAGE_TOKENS, "retrieve": Perm.MANAGE_TOKENS}
    ordering_fields = ["created_at", "expires_at", "last_used_at"]

    @extend_schema(request=s.APITokenCreateSerializer, responses={201: s.APITokenCreatedSerializer})
    def create(self, request):
        data = s.APITokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = actions.create_token(self.actor, **data.validated_data)
        token.token = raw
        return Response(s.APITokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.APITokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = actions.revoke_token(self.actor, self.get_object())
        return Response(s.APITokenSerializer(token).data)


class AuditEventViewSet(TenantReadOnlyViewSet):
    """The organisation's audit log (owners and admins)."""

    model = AuditEvent
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet
    select_related = ("actor_user", "actor_token")
    permissions_by_action = {"list": Perm.READ_AUDIT, "retrieve": Perm.READ_AUDIT}
    ordering_fields = ["created_at"]
