from rest_framework.views import APIView


class WorkspaceAPIView(APIView):
    """Base of every /api/v1/ view; `rate_class` names its rate-limit bucket."""

    rate_class: str | None = None
