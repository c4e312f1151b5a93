from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("members", views.MembershipViewSet, basename="membership")
router.register("tokens", views.APITokenViewSet, basename="apitoken")
router.register("audit", views.AuditEventViewSet, basename="auditevent")

settings_view = views.OrganisationSettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
urlpatterns = [path("me/", views.MeView.as_view(), name="me"),
               path("organisation/", settings_view, name="organisation-settings"), *router.urls]
