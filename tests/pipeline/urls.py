"""The one-view and two-view executions of Sentry's pipeline README, as plain DRF views."""

from typing import Any

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.pipeline import Pipeline
from tests.pipeline.examples import SentryPipeline, SetupPipeline


class OneView(APIView):
    """Initializes and traverses in one view: the provider key is in the URL."""

    pipeline_cls: type[Pipeline] = SentryPipeline

    def handle_request(self, request: Request, provider_key: str) -> Response:
        pipeline = self.pipeline_cls(request=request, provider_key=provider_key)

        # Since we are handling initialization in the same view as moving
        # through the pipeline, check for a valid pipeline first, to avoid
        # re-initialization.
        if not pipeline.is_valid():
            pipeline.initialize()

        return pipeline.current_step()

    def get(self, request: Request, provider_key: str) -> Response:
        return self.handle_request(request, provider_key)

    def post(self, request: Request, provider_key: str) -> Response:
        return self.handle_request(request, provider_key)


class InitView(APIView):
    pipeline_cls: type[Pipeline] = SentryPipeline

    def post(self, request: Request, provider_key: str) -> Response:
        pipeline = self.pipeline_cls(request=request, provider_key=provider_key)
        pipeline.initialize()
        return pipeline.current_step()


class StepView(APIView):
    """Finds the flow through the session: no key in the URL."""

    pipeline_cls: type[Pipeline] = SentryPipeline

    def handle_request(self, request: Request) -> Response:
        pipeline = self.pipeline_cls.get_for_request(request)

        # If the pipeline isn't correctly initialized error out.
        if pipeline is None or not pipeline.is_valid():
            return Response(status=400)

        # Pipeline is already initialized.
        return pipeline.current_step()

    def get(self, request: Request, *args: Any) -> Response:
        return self.handle_request(request)

    def post(self, request: Request, *args: Any) -> Response:
        return self.handle_request(request)


urlpatterns = [
    path("sentry/one/<str:provider_key>/", OneView.as_view()),
    path("sentry/init/<str:provider_key>/", InitView.as_view()),
    path("sentry/step/", StepView.as_view()),
    # The same views, for a pipeline whose steps nest another pipeline.
    path("setup/one/<str:provider_key>/", OneView.as_view(pipeline_cls=SetupPipeline)),
    path("setup/init/<str:provider_key>/", InitView.as_view(pipeline_cls=SetupPipeline)),
    path("setup/step/", StepView.as_view(pipeline_cls=SetupPipeline)),
    path("", include("backend.config.urls")),
]
