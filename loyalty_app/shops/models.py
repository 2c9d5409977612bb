from __future__ import annotations

from django.db import models

from loyalty_app.common.crypto import secret_decrypt, secret_encrypt


class Shop(models.Model):
    """One merchant's store: the tenant every other row belongs to.

    Invariants: ``domain`` is unique and lower-case; the platform access token is
    stored encrypted and never appears in ``repr`` or logs.
    """

    class State(models.TextChoices):
        INSTALLED = "installed"
        UNINSTALLED = "uninstalled"

    domain = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    state = models.CharField(max_length=16, choices=State.choices, default=State.INSTALLED)
    access_token_encrypted = models.TextField(blank=True, editable=False)
    access_scopes = models.CharField(max_length=1024, blank=True)
    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    uses_product_facts = models.BooleanField(
        default=False,
        help_text="some program version or campaign matches product type, tag or collection "
        "(kept by the earning services, so the award path needs no query to know)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain=models.functions.Lower("domain")),
                name="shop_domain_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    def __repr__(self) -> str:
        return f"<Shop {self.pk} {self.domain}>"

    @property
    def access_token(self) -> str:
        return secret_decrypt(self.access_token_encrypted)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self.access_token_encrypted = secret_encrypt(value)

    @property
    def is_installed(self) -> bool:
        return self.state == self.State.INSTALLED


class ApiToken(models.Model):
    """A merchant REST API token. Only its SHA-256 digest is stored."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, default="default")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.shop.domain})"
