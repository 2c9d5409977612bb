from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger is append-only, corrections are new entries."""

    list_display = (
        "created_at",
        "member",
        "kind",
        "points",
        "balance_after",
        "reason",
        "actor",
        "shop",
    )
    list_filter = ("shop", "kind")
    search_fields = ("member__external_id", "member__email", "source_id", "idempotency_key")
    list_select_related = ("member", "shop")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
