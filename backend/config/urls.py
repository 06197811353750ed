from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
)
from drf_spectacular.views import SpectacularAPIView

from .frontend import frontend

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(
            renderer_classes=[OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer]
        ),
        name="schema",
    ),
    path("api/auth/", include("backend.accounts.urls")),
    path("api/", include("backend.pipeline.api.urls")),
    re_path(r"^(?!api/|admin/)(?P<path>.*)$", frontend, name="frontend"),
]

handler404 = "backend.pipeline.api.exceptions.not_found"
handler500 = "backend.pipeline.api.exceptions.server_error"
