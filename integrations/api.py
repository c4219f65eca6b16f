"""REST views of integrations, and the public ``/hooks/<token>/`` endpoint. Thin: one action or query each."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import body, errors
from core.schema import ErrorSchema

from . import actions, queries, schema
from .payloads import bot_payload, incoming_webhook_payload, outgoing_webhook_payload, token_payload

WRITE_ERRORS = errors(400, 403, 404, 429)


class BotListView(APIView):
    @extend_schema(responses={200: schema.BotSchema(many=True), **errors()}, summary="Your bots")
    def get(self, request: Request) -> Response:
        return Response([bot_payload(bot) for bot in queries.bots_of(request.user)])

    @extend_schema(
        request=schema.BotCreateRequest,
        responses={201: schema.BotSchema, **errors(400, 403, 409, 429)},
        summary="Create a bot you own",
    )
    def post(self, request: Request) -> Response:
        data = body(request)
        bot = actions.create_bot(request.user, data.get("username"), data.get("display_name", ""))
        return Response(bot, status=status.HTTP_201_CREATED)


class BotDetailView(APIView):
    @extend_schema(responses={204: None, **errors(404)}, summary="Delete (deactivate) your bot, revoking its tokens")
    def delete(self, request: Request, bot_id: int) -> Response:
        actions.delete_bot(request.user, bot_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BotTokenListView(APIView):
    @extend_schema(responses={200: schema.TokenSchema(many=True), **errors(404)}, summary="A bot's live tokens")
    def get(self, request: Request, bot_id: int) -> Response:
        bot = actions.check_owned_bot(request.user, bot_id)
        return Response([token_payload(token) for token in queries.tokens_of(bot)])

    @extend_schema(
        request=schema.NameRequest,
        responses={201: schema.TokenSchema, **WRITE_ERRORS},
        summary="Create an API token (shown in this answer only)",
    )
    def post(self, request: Request, bot_id: int) -> Response:
        token = actions.create_token(request.user, bot_id, body(request).get("name"))
        return Response(token, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None, **errors(404)}, summary="Revoke an API token of your bot")
    def delete(self, request: Request, token_id: int) -> Response:
        actions.revoke_token(request.user, token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomIncomingWebhooksView(APIView):
    @extend_schema(responses={200: schema.IncomingWebhookSchema(many=True), **errors(400, 403, 404)})
    def get(self, request: Request, room_id: int) -> Response:
        membership = actions.check_room_admin(request.user, room_id)
        return Response([incoming_webhook_payload(h) for h in queries.incoming_webhooks_of(membership.room_id)])

    @extend_schema(
        request=schema.NameRequest,
        responses={201: schema.IncomingWebhookSchema, **WRITE_ERRORS},
        summary="Create an incoming webhook (room admins; its token is in this answer only)",
    )
    def post(self, request: Request, room_id: int) -> Response:
        new = actions.check_create_incoming_webhook(request.user, room_id, body(request).get("name"))
        hook = actions.do_create_incoming_webhook(new, request.build_absolute_uri("/"))
        return Response(hook, status=status.HTTP_201_CREATED)


class IncomingWebhookDetailView(APIView):
    @extend_schema(request=schema.NameRequest, responses={200: schema.IncomingWebhookSchema, **WRITE_ERRORS})
    def patch(self, request: Request, hook_id: int) -> Response:
        hook, name = actions.check_rename_incoming_webhook(request.user, hook_id, body(request).get("name"))
        return Response(actions.do_rename_incoming_webhook(hook, name))

    @extend_schema(responses={204: None, **errors(404)}, summary="Revoke: its URL answers 404 from now on")
    def delete(self, request: Request, hook_id: int) -> Response:
        actions.do_revoke_incoming_webhook(actions.check_incoming_webhook(request.user, hook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomOutgoingWebhooksView(APIView):
    commands = False

    @extend_schema(responses={200: schema.OutgoingWebhookSchema(many=True), **errors(400, 403, 404)})
    def get(self, request: Request, room_id: int) -> Response:
        membership = actions.check_room_admin(request.user, room_id)
        hooks = queries.outgoing_webhooks_of(membership.room_id, commands=self.commands)
        return Response([outgoing_webhook_payload(hook) for hook in hooks])

    @extend_schema(
        request=schema.OutgoingWebhookRequest,
        responses={201: schema.OutgoingWebhookSchema, **WRITE_ERRORS},
        summary="Register an outgoing webhook (room admins; its secret is in this answer only)",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = body(request)
        new = actions.check_create_outgoing_webhook(
            request.user,
            room_id,
            name=data.get("name"),
            url=data.get("url"),
            trigger=data.get("trigger"),
            trigger_word=data.get("trigger_word", ""),
        )
        return Response(actions.do_create_outgoing_webhook(new), status=status.HTTP_201_CREATED)


class RoomCommandsView(RoomOutgoingWebhooksView):
    commands = True

    @extend_schema(
        request=schema.CommandRequest,
        responses={201: schema.OutgoingWebhookSchema, **errors(400, 403, 404, 409, 429)},
        summary="Register a custom slash command answered by a URL (room admins; secret shown once)",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = body(request)
        new = actions.check_create_command(request.user, room_id, command=data.get("command"), url=data.get("url"))
        return Response(actions.do_create_outgoing_webhook(new), status=status.HTTP_201_CREATED)


class OutgoingWebhookDetailView(APIView):
    @extend_schema(responses={204: None, **errors(404)}, summary="Revoke an outgoing webhook or a custom command")
    def delete(self, request: Request, hook_id: int) -> Response:
        actions.do_revoke_outgoing_webhook(actions.check_outgoing_webhook(request.user, hook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HookView(APIView):
    """``POST /hooks/<token>/``: the token is the credential (no session, so no CSRF)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=schema.HookPostRequest,
        responses={201: schema.HookPostAnswer, **{code: ErrorSchema for code in (400, 403, 404, 413, 429)}},
        summary="Post a message through an incoming webhook (JSON, or Slack's form-encoded payload=)",
    )
    def post(self, request: Request, token: str) -> Response:
        data = actions.parse_hook_body(request.content_type or "", request.body)
        message = actions.post_to_hook(token, data)
        return Response({"ok": True, "message": message["id"]}, status=status.HTTP_201_CREATED)
