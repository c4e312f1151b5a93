from __future__ import annotations

from rest_framework import serializers

from ..actions import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from ..models import APIToken, AuditEvent, Invitation, Membership, Organisation, Role


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "slug"]


class OrganisationSettingsSerializer(serializers.ModelSerializer):
    """The organisation's settings. ``pooled_pretraining``: its consenting subjects' sessions may enter the
    platform's pooled encoder pretraining (default off); only its owner (or platform staff) may change it,
    each change is audited with ``reason``."""

    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500, default="",
                                   help_text="why the setting changes (kept in the audit log)")

    class Meta:
        model = Organisation
        fields = ["id", "name", "slug", "pooled_pretraining", "reason"]
        read_only_fields = ["id", "name", "slug"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]
        read_only_fields = ["id", "username", "created_at"]


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=30, default=7)


class InvitationCreatedSerializer(serializers.ModelSerializer):
    """The answer to ``POST /members/``: an invitation for that username (the same whether or not the
    name has an account anywhere); the user becomes a member when they open ``link`` and accept."""

    state = serializers.CharField(read_only=True)
    link = serializers.CharField(read_only=True, help_text="The one-time link, shown this once; send it to the user.")

    class Meta:
        model = Invitation
        fields = ["id", "username", "role", "state", "created_at", "expires_at", "link"]
        read_only_fields = fields


class APITokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True,
                                       help_text="null for a token created by a token (or whose creator was deleted)")

    class Meta:
        model = APIToken
        fields = ["id", "name", "key_id", "role", "created_by", "created_at", "expires_at", "revoked_at",
                  "last_used_at", "is_active"]
        read_only_fields = fields


class APITokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_TOKEN_DAYS, default=DEFAULT_TOKEN_DAYS)


class APITokenCreatedSerializer(APITokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret, shown this once; store it now.")

    class Meta(APITokenSerializer.Meta):
        fields = [*APITokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "object_type", "object_id", "object_repr", "data"]
        read_only_fields = fields

    def get_actor(self, obj) -> str:
        if obj.actor_token_id:
            return f"token:{obj.actor_token.key_id}"
        if obj.actor_user_id:
            return obj.actor_user.username
        return "system"


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    organisation = OrganisationSerializer()
    role = serializers.CharField()
    memberships = serializers.ListField(child=serializers.DictField())
