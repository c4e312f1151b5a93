from rest_framework.routers import SimpleRouter

from . import platform, platform_views, views

router = SimpleRouter()
router.register("training-jobs", views.TrainingJobViewSet, basename="trainingjob")
router.register("predictor-versions", views.PredictorVersionViewSet, basename="predictorversion")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("alias-events", views.AliasEventViewSet, basename="aliasevent")
# platform staff only (tenancy.api.platform.PlatformViewSet): global jobs, no organisation
router.register("platform/training-jobs", platform.PlatformTrainingJobViewSet, basename="platform-trainingjob")
# platform staff only: encoders and their promotion (registry.rollouts)
router.register("platform/encoders", platform_views.PlatformEncoderViewSet, basename="platform-encoder")
router.register("platform/encoder-rollouts", platform_views.PlatformRolloutViewSet, basename="platform-rollout")
urlpatterns = router.urls
