"""The reports queue and the audit log in Django admin.

Reports are read-only records with buttons: resolve, dismiss, or delete the
reported message (which resolves every open report on it). Each asks first,
on a confirmation page with a reason for the audit log, from the report's
page and from the queue alike. Messages are named by their id everywhere
("Message 11"), as their own admin pages are; a message's seq is its place in
its room, not a name. The audit log is read-only for everyone, superusers
included: it is the record.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from . import (
    actions,
    admin_accounts,  # noqa: F401  (registers the user admin)
)
from .admin_chat import ReadOnlyMixin, message_context, message_name
from .admin_tools import ModerationMixin, ReasonForm, confirm_action, confirm_view
from .models import AuditLog, Report


def _close_action(resolution: str, verb: str):
    """A queue action closing the selected reports, after its confirmation page with a reason."""

    def action(modeladmin, request, queryset):
        return confirm_action(
            modeladmin,
            request,
            queryset,
            form_class=ReasonForm,
            title=f"{verb} reports",
            submit=verb,
            run=lambda report, data: actions.close_report(
                request.user, report.pk, resolution=resolution, reason=data["reason"]
            ),
            done=f"report(s) {resolution}",
        )

    return action


resolve = admin.action(description="Resolve selected reports", permissions=["moderate"])(
    _close_action("resolved", "Resolve")
)
resolve.__name__ = "resolve"
dismiss = admin.action(description="Dismiss selected reports", permissions=["moderate"])(
    _close_action("dismissed", "Dismiss")
)
dismiss.__name__ = "dismiss"


@admin.action(description="Delete the reported messages (resolves their reports)", permissions=["moderate"])
def delete_messages(modeladmin, request, queryset):
    return confirm_action(
        modeladmin,
        request,
        queryset.filter(status=Report.Status.OPEN),
        form_class=ReasonForm,
        title="Delete the reported messages",
        submit="Delete the messages",
        run=lambda report, data: actions.delete_reported_message(request.user, report.pk, data["reason"]),
        done="reported message(s) deleted",
    )


class OpenFirstStatusFilter(admin.SimpleListFilter):
    """The queue opens on open reports; "All" shows every status."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("all", "All"), *Report.Status.choices]

    def choices(self, changelist):
        value = self.value() or Report.Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or Report.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(Report)
class ReportAdmin(ModerationMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "status", "message_link", "message_excerpt", "room", "reporter", "reason", "created_at")
    list_filter = (OpenFirstStatusFilter, "created_at")
    search_fields = ("reason", "message__body", "reporter__username", "message__sender__username")
    list_select_related = ("message__room", "message__sender", "reporter")
    ordering = ("created_at",)  # oldest first: a queue
    fields = (
        "status",
        "message_link",
        "message_sender",
        "room",
        "reporter",
        "reason",
        "created_at",
        "resolved_by",
        "resolved_at",
        "context",
    )
    readonly_fields = fields
    actions = [resolve, dismiss, delete_messages]
    change_form_template = "admin/moderation/report/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:report_id>/resolve/", view(self.close_view("resolved")), name="moderation_report_resolve"),
            path("<int:report_id>/dismiss/", view(self.close_view("dismissed")), name="moderation_report_dismiss"),
            path(
                "<int:report_id>/delete-message/",
                view(self.delete_message_view),
                name="moderation_report_delete_message",
            ),
            *super().get_urls(),
        ]

    def close_view(self, resolution: str):
        verb = {"resolved": "Resolve", "dismissed": "Dismiss"}[resolution]

        def view(request: HttpRequest, report_id: int):
            """GET: the confirmation page with a reason; POST: close the report, back to the queue."""
            report = self._report(request, report_id)
            return confirm_view(
                self,
                request,
                form_class=ReasonForm,
                title=f"{verb} report {report.pk}",
                subject=f"{verb} report {report.pk} on {message_name(report.message_id)}?",
                submit=verb,
                run=lambda data: actions.close_report(
                    request.user, report_id, resolution=resolution, reason=data["reason"]
                ),
                done=f"Report {report.pk} {resolution}.",
                back_url=reverse("admin:moderation_report_changelist"),
            )

        return view

    def delete_message_view(self, request: HttpRequest, report_id: int):
        """GET: the confirmation page with a reason; POST: delete the message, resolving its open reports."""
        report = self._report(request, report_id)
        return confirm_view(
            self,
            request,
            form_class=ReasonForm,
            title=f"Delete {message_name(report.message_id)}",
            subject=(
                f"Delete {message_name(report.message_id)}, reported in report {report.pk}? "
                "Every open report on it is resolved."
            ),
            submit="Delete the message",
            run=lambda data: actions.delete_reported_message(request.user, report_id, data["reason"]),
            done=f"{message_name(report.message_id)} was deleted and its reports resolved.",
            back_url=reverse("admin:moderation_report_changelist"),
        )

    def _report(self, request: HttpRequest, report_id: int) -> Report:
        self.require_moderator(request)
        return get_object_or_404(Report, pk=report_id)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "can_moderate": self.has_moderate_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Message")
    def message_link(self, report: Report) -> str:
        state = " (deleted)" if report.message.deleted_at else ""
        return format_html(
            '<a href="{}">{}{}</a>',
            reverse("admin:chat_message_change", args=[report.message_id]),
            message_name(report.message_id),
            state,
        )

    @admin.display(description="Text")
    def message_excerpt(self, report: Report) -> str:
        return report.message.body[:120]

    @admin.display(description="Sender")
    def message_sender(self, report: Report) -> str:
        return str(report.message.sender or "-")

    @admin.display(description="Room")
    def room(self, report: Report) -> str:
        return str(report.message.room)

    @admin.display(description="The conversation around it")
    def context(self, report: Report) -> str:
        return message_context(report.message)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "target_type", "target_id", "target_repr", "reason")
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor_username", "target_repr", "reason")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "actor",
        "actor_username",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "room_id",
        "reason",
        "details",
    )
    readonly_fields = fields
    show_full_result_count = False
