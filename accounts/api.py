from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.views import WorkspaceAPIView


class MeView(WorkspaceAPIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "user": inline_serializer("MeUser", {"email": serializers.EmailField()}),
                "workspace": inline_serializer(
                    "MeWorkspace",
                    {"id": serializers.IntegerField(), "name": serializers.CharField(), "kind": serializers.CharField()},
                ),
            },
        )
    )
    def get(self, request):
        workspace = request.workspace
        return Response(
            {
                "user": {"email": request.user.email},
                "workspace": {"id": workspace.pk, "name": workspace.name, "kind": workspace.kind},
            }
        )
