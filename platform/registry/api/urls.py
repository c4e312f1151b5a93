from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("training-jobs", views.TrainingJobViewSet, basename="trainingjob")
router.register("predictor-versions", views.PredictorVersionViewSet, basename="predictorversion")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("alias-events", views.AliasEventViewSet, basename="aliasevent")
urlpatterns = router.urls
