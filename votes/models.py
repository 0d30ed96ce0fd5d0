from django.conf import settings
from django.db import models

from tools.models import Tool, Verdict


class Vote(models.Model):
    """A community member's ship/skip on a tool: one per voter per tool.

    Created, changed and removed only through votes.services, which keeps the
    tool's community counters in the same transaction.
    """

    # No index of their own: the unique (voter, tool) and the (tool, verdict) indexes
    # lead with these columns and serve every lookup; each extra index slows every vote.
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes", db_index=False)
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="votes", db_index=False)
    verdict = models.CharField(max_length=4, choices=Verdict.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["voter", "tool"], name="one_vote_per_voter_per_tool"),
            models.CheckConstraint(condition=models.Q(verdict__in=Verdict.values), name="vote_verdict_valid"),
        ]
        indexes = [models.Index(fields=["tool", "verdict"])]

    def __str__(self) -> str:
        return f"{self.voter} on {self.tool}: {self.verdict}"


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class Subscriber(models.Model):
    """A "Weekly AI Tool Verdicts" newsletter address (double opt-in)."""

    email = models.EmailField(unique=True, help_text="Stored lower-cased: one subscriber per address.")
    status = models.CharField(max_length=12, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email


class UsernameClaim(models.Model):
    """The forms of an account's username that no other account may take (votes.usernames).

    Both columns are unique, so the look-alike check on registration is one indexed
    query and a race between two look-alike registrations ends in an IntegrityError,
    not two accounts. Null only for accounts that already shared a form with an older
    account when this table was created: those keep their exact username for logging in.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="username_claim"
    )
    # Null, not "": a unique column may hold many nulls but only one empty string.
    canonical = models.TextField(unique=True, null=True, help_text="NFKC, case-folded.")  # noqa: DJ001
    skeleton = models.TextField(  # noqa: DJ001
        unique=True, null=True, help_text="Unicode TR39 confusable skeleton of `canonical`."
    )

    def __str__(self) -> str:
        return self.canonical or f"(unclaimed: user {self.user_id})"
