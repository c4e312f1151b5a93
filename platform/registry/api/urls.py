from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import platform_views, views

router = SimpleRouter()
router.register("training-jobs", views.TrainingJobViewSet, basename="trainingjob")
router.register("predictor-versions", views.PredictorVersionViewSet, basename="predictorversion")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("alias-events", views.AliasEventViewSet, basename="aliasevent")

# staff-only, platform level (not tenant data): /api/v1/platform/...
platform = SimpleRouter()
platform.register("encoders", platform_views.PlatformEncoderViewSet, basename="platform-encoder")
platform.register("encoder-rollouts", platform_views.PlatformRolloutViewSet, basename="platform-rollout")

urlpatterns = router.urls + [path("platform/", include(platform.urls))]
