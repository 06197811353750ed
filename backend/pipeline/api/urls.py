from django.urls import include, path

from .routers import PipelineRouter
from .views import PipelineViewSet

router = PipelineRouter()
router.register("pipelines", PipelineViewSet, basename="pipeline")

urlpatterns = [path("", include(router.urls))]
