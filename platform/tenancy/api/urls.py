from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("members", views.MembershipViewSet, basename="membership")
router.register("tokens", views.APITokenViewSet, basename="apitoken")
router.register("audit", views.AuditEventViewSet, basename="auditevent")

urlpatterns = [path("me/", views.MeView.as_view(), name="me"), *router.urls]
