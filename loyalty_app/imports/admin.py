from django.contrib import admin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "shop",
        "filename",
        "status",
        "dry_run",
        "lines",
        "imported",
        "unchanged",
        "rejected",
        "created_at",
    )
    list_filter = ("status", "dry_run", "shop")
    list_select_related = ("shop",)
    exclude = ("content",)
    # A job's outcome is the ledger's business: it is read here, never edited.
    readonly_fields = (
        "shop",
        "filename",
        "sha256",
        "size_bytes",
        "columns",
        "dry_run",
        "idempotency_key",
        "status",
        "error",
        "lines",
        "cursor_line",
        "imported",
        "unchanged",
        "rejected",
        "members_created",
        "points_total",
        "points_written",
        "rejected_lines",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
