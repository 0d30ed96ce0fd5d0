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
    # Whether the tool's counters include this vote: its voter's Voter.votes_count at
    # cast time, flipped with the counters whenever that changes (votes.services). A row
    # inserted by hand without the column (SQL scripts, drills) starts uncounted.
    counted = models.BooleanField(default=False, db_default=False)
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


class Voter(models.Model):
    """A voter account's standing: its email address and whether its votes count.

    One row per account made by registration (votes.services.voter_register). Its
    votes count only while the address is verified and the account active; the
    services that change either also set `votes_count` and move the counters, and
    a vote reads it under a row lock, so the two never disagree.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    # The address as given (for sending) stays in user.email; this is its canonical
    # form, unique, so one address backs one account (votes.emails.normalise_address).
    email_normalised = models.CharField(max_length=254, unique=True, null=True, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    votes_count = models.BooleanField(default=False, help_text="Verified and active: the account's votes count.")

    def __str__(self) -> str:
        return str(self.user)


class MailRecipient(models.Model):
    """When an address was last sent a newsletter or verification email: at most one a day."""

    address = models.CharField(max_length=254, unique=True, help_text="Normalised (votes.emails.normalise_address).")
    last_mailed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.address


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
