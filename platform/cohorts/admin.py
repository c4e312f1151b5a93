from django.contrib import admin
from tenancy.admin import UnscopedAdmin

from .models import Cohort, Subject


@admin.register(Cohort)
class CohortAdmin(UnscopedAdmin):
    list_display = ("name", "organisation", "created_at")


@admin.register(Subject)
class SubjectAdmin(UnscopedAdmin):
    list_display = ("external_id", "organisation", "cohort", "birth_year", "sex")
