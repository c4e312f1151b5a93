from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("cohorts", views.CohortViewSet, basename="cohort")
router.register("subjects", views.SubjectViewSet, basename="subject")
router.register("phenotype-tables", views.PhenotypeTableViewSet, basename="phenotypetable")
router.register("phenotype-labels", views.PhenotypeLabelViewSet, basename="phenotypelabel")
urlpatterns = router.urls
