from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView


# Base of every /api/v1/ view; `rate_class` names its rate-limit bucket. (Docstrings of these bases would be
# shown in the API docs as the description of every endpoint without one.)
class WorkspaceAPIView(APIView):
    rate_class: str | None = None


class CSVRenderer(BaseRenderer):
    """Lets a client send `Accept: text/csv`. The CSV itself streams from the view; an error is JSON whatever
    the client accepts (CsvAPIView), so this renderer never writes a body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("CSV responses stream from their view.")


# An endpoint answering a CSV download, to clients accepting text/csv, */* or application/json.
class CsvAPIView(WorkspaceAPIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and isinstance(response.accepted_renderer, CSVRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
