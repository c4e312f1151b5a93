"""Django admin (staff only). The admin sees every organisation, so it reads through ``unscoped``."""

from django.contrib import admin

from .models import APIToken, AuditEvent, Membership, Organisation


class UnscopedAdmin(admin.ModelAdmin):
    """Admin of a tenant-owned model: explicit unscoped access (the admin is cross-organisation)."""

    def get_queryset(self, request):
        return self.model.unscoped.all()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0

    def get_queryset(self, request):
        return Membership.unscoped.all()


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(APIToken)
class APITokenAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "key_id", "role", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = ("key_id", "key_hash")


@admin.register(AuditEvent)
class AuditEventAdmin(UnscopedAdmin):
    list_display = ("created_at", "organisation", "action", "object_type", "object_id", "actor_user", "actor_token")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
