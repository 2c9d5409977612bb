from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from loyalty_app.shops.models import Shop

HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "must be a colour written #rrggbb")


class AuditEntry(models.Model):
    """One change a merchant made in the embedded admin: who, what, when, before and after.

    Written by the admin's services in the same transaction as the change itself, so a
    change without its entry (or an entry without its change) cannot be committed.
    Append-only by convention: nothing in the app updates or deletes a row. ``before`` and
    ``after`` are short summaries (the fields that matter, never secrets), not full copies.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.CharField(max_length=200, help_text="the staff user, e.g. staff:42")
    action = models.CharField(max_length=64, help_text="e.g. program.update, campaign.delete")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "audit entries"
        # The Activity page reads a shop's newest entries.
        indexes = [models.Index(fields=["shop", "-id"], name="audit_entry_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id} by {self.actor}"


class WidgetSettings(models.Model):
    """How the storefront widget looks in one shop. At most one row per shop; a shop
    without a row shows the defaults below (``selectors.widget_settings_get``).

    Invariants: colours are ``#rrggbb``; texts are short (the widget's layout has room for
    these lengths and no more); the launcher sits left or right.
    """

    class Position(models.TextChoices):
        LEFT = "left", "Bottom left"
        RIGHT = "right", "Bottom right"

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="widget_settings")
    enabled = models.BooleanField(default=False)
    primary_colour = models.CharField(max_length=7, default="#008060", validators=[HEX_COLOUR])
    text_colour = models.CharField(max_length=7, default="#ffffff", validators=[HEX_COLOUR])
    launcher_position = models.CharField(
        max_length=5, choices=Position.choices, default=Position.RIGHT
    )
    launcher_text = models.CharField(max_length=30, default="Rewards")
    panel_title = models.CharField(max_length=60, default="Your rewards")
    welcome_text = models.CharField(
        max_length=300, default="Earn points on every order and turn them into rewards."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "widget settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(primary_colour__regex=r"^#[0-9a-fA-F]{6}$")
                & models.Q(text_colour__regex=r"^#[0-9a-fA-F]{6}$"),
                name="widget_colours_hex",
            ),
            models.CheckConstraint(
                condition=models.Q(launcher_position__in=["left", "right"]),
                name="widget_launcher_position",
            ),
        ]

    def __str__(self) -> str:
        return f"widget of {self.shop_id}"

    def summary(self) -> dict[str, object]:
        """The fields an audit entry records."""
        return {
            "enabled": self.enabled,
            "primary_colour": self.primary_colour,
            "text_colour": self.text_colour,
            "launcher_position": self.launcher_position,
            "launcher_text": self.launcher_text,
            "panel_title": self.panel_title,
            "welcome_text": self.welcome_text,
        }
