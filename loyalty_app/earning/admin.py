from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "name",
        "member",
        "eligible_amount",
        "refunded_amount",
        "paid",
        "cancelled",
        "points_awarded",
        "shop",
    )
    list_filter = ("shop", "paid", "cancelled", "test")
    search_fields = ("external_id", "name", "member__email")
    list_select_related = ("member", "shop")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
