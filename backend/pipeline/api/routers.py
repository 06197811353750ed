"""A router whose detail route also takes POST: submitting a step."""

from rest_framework.routers import Route, SimpleRouter


class PipelineRouter(SimpleRouter):
    routes = [
        (
            Route(
                url=r"^{prefix}/{lookup}{trailing_slash}$",
                mapping={"get": "retrieve", "post": "submit", "delete": "destroy"},
                name="{basename}-detail",
                detail=True,
                initkwargs={"suffix": "Instance"},
            )
            if isinstance(route, Route) and route.detail
            else route
        )
        for route in SimpleRouter.routes
    ]
