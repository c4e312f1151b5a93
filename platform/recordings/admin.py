from django.contrib import admin
from tenancy.admin import UnscopedAdmin

from .models import GaitSession, Upload


@admin.register(GaitSession)
class GaitSessionAdmin(UnscopedAdmin):
    list_display = ("id", "organisation", "subject", "status", "attempts", "created_at")
    list_filter = ("status",)


@admin.register(Upload)
class UploadAdmin(UnscopedAdmin):
    list_display = ("id", "organisation", "subject", "status", "size", "offset", "created_at")
    list_filter = ("status",)
