from django.contrib import admin
from tenancy.admin import UnscopedAdmin

from .models import Alias, AliasEvent, EncoderVersion, PredictorCard, PredictorVersion, TrainingJob


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = ("version_tag", "config_name", "weights_digest", "status", "created_at")


@admin.register(PredictorVersion)
class PredictorVersionAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "encoder", "status", "created_at")


@admin.register(TrainingJob)
class TrainingJobAdmin(UnscopedAdmin):
    list_display = ("id", "organisation", "kind", "state", "created_at")


@admin.register(Alias)
class AliasAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "predictor", "updated_at")


@admin.register(AliasEvent)
class AliasEventAdmin(UnscopedAdmin):
    list_display = ("alias", "organisation", "action", "from_predictor", "to_predictor", "at")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PredictorCard)
class PredictorCardAdmin(admin.ModelAdmin):
    list_display = ("model_name", "model_version", "cohort_kind", "demonstration_only")
