"""The project's URLs, plus the floor and the peer of the benchmark."""

from django.urls import path

from backend.config.urls import handler400, handler404, handler500
from backend.config.urls import urlpatterns as project_urlpatterns

from .floor import BareView, FloorView
from .wizard import OnboardingWizard

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]

*_project, _frontend = project_urlpatterns

# After the project's patterns, as an application's own views would be, so
# that a request to any contender is resolved through them alike; before
# the frontend's catch-all, which would take the bench's paths.
urlpatterns = [
    *_project,
    path("bench/floor/<str:step>/", FloorView.as_view(), name="bench-floor"),
    path("bench/bare/<str:step>/", BareView.as_view(), name="bench-bare"),
    path("bench/wizard/", OnboardingWizard.as_view(), name="bench-wizard"),
    _frontend,
]
