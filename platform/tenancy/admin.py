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
    list_display = ("name", "slug", "pooled_pretraining", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("pooled_pretraining",)  # changed only by the audited actions below
    inlines = [MembershipInline]
    actions = ["pooled_pretraining_on", "pooled_pretraining_off"]

    def _set_pooled(self, request, queryset, enabled: bool) -> None:
        from .actions import set_pooled_pretraining
        from .audit import Actor

        for org in queryset:
            set_pooled_pretraining(Actor(user=request.user, role="staff"), org, enabled,
                                   reason="platform staff, Django admin")
        self.message_user(request, f"pooled pretraining {'on' if enabled else 'off'} for {queryset.count()} "
                                   "organisation(s) (audited)")

    @admin.action(description="Opt in to pooled pretraining (audited)")
    def pooled_pretraining_on(self, request, queryset):
        self._set_pooled(request, queryset, True)

    @admin.action(description="Opt out of pooled pretraining (audited)")
    def pooled_pretraining_off(self, request, queryset):
        self._set_pooled(request, queryset, False)


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
