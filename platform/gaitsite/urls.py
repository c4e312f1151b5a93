from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from tenancy import views as account_views

from . import health, views

api_v1 = [
    path("", include("tenancy.api.urls")),
    path("", include("cohorts.api.urls")),
    path("", include("recordings.api.urls")),
    path("", include("results.api.urls")),
    path("", include("registry.api.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("dashboard/", include("dashboards.urls")),
    # the admin signs in through the same throttled, two-step sign-in as the pages
    path("admin/login/", RedirectView.as_view(url="/accounts/login/", query_string=True)),
    path("admin/", admin.site.urls),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/2fa/", account_views.second_factor, name="second-factor"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include((api_v1, "v1"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/schema/ui/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

handler404 = "gaitsite.views.not_found"  # JSON under /api/ (the API error format), HTML elsewhere
