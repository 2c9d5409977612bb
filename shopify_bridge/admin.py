from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import WebhookEvent
from .services import webhook_event_replay


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "topic",
        "webhook_id",
        "status",
        "attempts",
        "last_error",
        "shop",
    )
    list_filter = ("status", "topic", "shop")
    search_fields = ("webhook_id", "event_id")
    list_select_related = ("shop",)
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Replay the selected failed or stuck events")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = 0
        for event in queryset.exclude(status=WebhookEvent.Status.DONE):
            webhook_event_replay(event=event)
            count += 1
        self.message_user(request, f"{count} event(s) queued again", messages.SUCCESS)
