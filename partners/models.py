from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"


class PartnerKey(AbstractAPIKey):
    """A partner's API key: shown once when created, stored hashed (djangorestframework-api-key)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="partner_keys",
        help_text="The account responsible for this key.",
    )
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "partner API key"
        verbose_name_plural = "partner API keys"

    # A rate-limited credential (compare_api.throttling.RateLimitedCredential): the
    # key's requests count against its tier's limit, per key.
    @property
    def rate_scope(self) -> str:
        return f"partner_{self.tier}"

    @property
    def rate_client(self) -> str:
        return f"key:{self.pk}"


class PartnerKeyUsage(models.Model):
    """Requests made with a key, per day (UTC)."""

    key = models.ForeignKey(PartnerKey, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day"], name="one_usage_row_per_key_per_day")]

    def __str__(self) -> str:
        return f"{self.key} on {self.day}: {self.requests}"
