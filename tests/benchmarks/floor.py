"""The floor, and the bare request: the least a JSON API can do.

The floor is the least a JSON API can do per step of the onboarding flow.

One bare DRF view per step: validate the step's serializer (the onboarding
pipeline's own, `backend.onboarding.serializers`), keep the valid data in
the session, answer a small JSON body. No flow, no descriptor, no schema:
what is left is DRF, the session and CSRF, which every contender pays.

CSRF is checked on every POST, as the pipeline API and the wizard do (DRF's
own session authentication checks it only for logged-in users), so the
three are measured under the same rule.

The bare view is a reference, not a contender: the same request less the
step (parse the body, authenticate by the session, check CSRF, answer),
made as often as ours makes requests per flow. It shows what ours' fourth
request costs before any work is done: ours makes four requests where the
floor makes three (though only its start reads the session).
"""

from typing import Any

from rest_framework import exceptions, serializers, status
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.onboarding.serializers import (
    CompanySerializer,
    ConfirmSerializer,
    ProfileSerializer,
)

#: The steps in order, each with its serializer.
STEPS: dict[str, type[serializers.Serializer[Any]]] = {
    "profile": ProfileSerializer,
    "company": CompanySerializer,
    "confirm": ConfirmSerializer,
}
SESSION_PREFIX = "floor_"


def _no_response(request: Any) -> Any:
    return None


class FloorView(APIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method not in SAFE_METHODS:
            http = request._request
            check = CSRFCheck(_no_response)
            check.process_request(http)
            reason = check.process_view(http, None, (), {})  # type: ignore[arg-type]
            if reason:
                raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")
        super().initial(request, *args, **kwargs)

    def post(self, request: Request, step: str) -> Response:
        serializer_cls = STEPS.get(step)
        if serializer_cls is None:
            raise exceptions.NotFound()
        serializer = serializer_cls(data=request.data)
        if not serializer.is_valid():
            return Response({"errors": serializer.errors}, status=status.HTTP_400_BAD_REQUEST)
        request.session[SESSION_PREFIX + step] = serializer.data
        return Response({"step": step, "data": serializer.data})


class BareView(FloorView):
    def post(self, request: Request, step: str) -> Response:
        # Like ours, which keeps one key in the session from the client's
        # first start on: every later request loads a session, none writes it.
        request.session.setdefault(SESSION_PREFIX + "bare", True)
        return Response({"step": step, "data": request.data})
