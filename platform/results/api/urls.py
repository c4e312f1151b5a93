from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("qc", views.QCReportViewSet, basename="qcreport")
router.register("features", views.TaskFeaturesViewSet, basename="taskfeatures")
router.register("embeddings", views.EmbeddingViewSet, basename="embedding")
router.register("predictions", views.PredictionViewSet, basename="prediction")
router.register("fhir/sessions", views.SessionFHIRViewSet, basename="session-fhir")
router.register("exports", views.CohortExportViewSet, basename="export")
urlpatterns = router.urls
