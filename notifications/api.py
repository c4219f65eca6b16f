"""REST views of the notification centre: thin adapters over queries and actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import body
from core.schema import ErrorSchema

from . import actions, queries, schema

ERRORS = {400: ErrorSchema}


class NotificationListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("unread", str, required=False, description="1: only unread notifications"),
            OpenApiParameter("before", int, required=False, description="Only notifications with a smaller id"),
            OpenApiParameter("limit", int, required=False, description="1 to 100, default 50"),
        ],
        responses={200: schema.NotificationPageSchema, **ERRORS},
        summary="The caller's notifications, newest first, with the unread count",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return Response(
            queries.notification_page(
                request.user, unread=params.get("unread"), before=params.get("before"), limit=params.get("limit")
            )
        )


class NotificationReadView(APIView):
    @extend_schema(
        request=schema.MarkReadRequest,
        responses={200: schema.MarkReadSchema, **ERRORS},
        summary="Mark the caller's notifications read (those in `ids`, or all)",
    )
    def post(self, request: Request) -> Response:
        data = body(request)
        return Response(actions.mark_notifications_read(request.user, data.get("ids")))
