from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("sessions", views.GaitSessionViewSet, basename="session")
router.register("uploads", views.UploadViewSet, basename="upload")
urlpatterns = router.urls
