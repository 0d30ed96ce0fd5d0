from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.timesince import timesince
from knox.admin import AuthTokenAdmin
from knox.models import AuthToken

from votes import usernames
from votes.accounts import username_claim
from votes.models import Subscriber, Vote, Voter
from votes.serializers import LOOKS_TAKEN, TAKEN
from votes.services import voter_delete, voter_set_active, votes_remove

ACCOUNT_AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class AccountAgeFilter(admin.SimpleListFilter):
    """A burst of sock puppets votes from accounts made minutes before: filter by the account's age at the vote."""

    title = "account created within, before voting"
    parameter_name = "account_age"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("1h", "1 hour"), ("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Vote]) -> QuerySet[Vote]:
        age = ACCOUNT_AGES.get(self.value() or "")
        if age is None:
            return queryset
        return queryset.filter(voter__date_joined__gte=F("created_at") - age)


class VerifiedFilter(admin.SimpleListFilter):
    title = "voter's email verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Vote]) -> QuerySet[Vote]:
        if self.value() == "yes":
            return queryset.filter(voter__voter__email_verified_at__isnull=False)
        if self.value() == "no":
            # No Voter row (an account made outside registration) is unverified too.
            return queryset.exclude(voter__voter__email_verified_at__isnull=False)
        return queryset


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Moderation: staff see votes with their voters' account age and verification, and remove
    a burst (filter, select all, one action); the tool counters follow through the service."""

    list_display = ["tool", "voter", "verdict", "counted", "account_age", "voter_verified", "created_at", "updated_at"]
    list_filter = [
        ("tool", admin.RelatedOnlyFieldListFilter),
        AccountAgeFilter,
        VerifiedFilter,
        "counted",
        "verdict",
        "tool__category",
    ]
    list_select_related = ["tool", "voter", "voter__voter"]
    search_fields = ["voter__username", "voter__email", "tool__name", "tool__slug"]
    readonly_fields = ["voter", "tool", "verdict", "counted", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    actions = ["remove_votes", "deactivate_voters"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vote]:
        age = ExpressionWrapper(F("created_at") - F("voter__date_joined"), output_field=DurationField())
        return super().get_queryset(request).annotate(account_age=age)

    @admin.display(description="account age at the vote", ordering="account_age")
    def account_age(self, vote: Vote) -> str:
        return timesince(vote.voter.date_joined, vote.created_at)

    @admin.display(description="verified", boolean=True, ordering="voter__voter__email_verified_at")
    def voter_verified(self, vote: Vote) -> bool:
        voter = getattr(vote.voter, "voter", None)
        return voter is not None and voter.email_verified_at is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Vote | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Vote) -> None:
        votes_remove(votes=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Vote]) -> None:
        votes_remove(votes=list(queryset))

    @admin.action(description="Remove the selected votes (counters corrected)", permissions=["delete"])
    def remove_votes(self, request: HttpRequest, queryset: QuerySet[Vote]) -> None:
        removed = votes_remove(votes=list(queryset.select_related(None).only("id", "tool_id")))
        self.message_user(request, f"Removed {removed} votes; the tools' community counters are corrected.")

    @admin.action(
        description="Deactivate the voters of the selected votes (none of their votes count)",
        permissions=["deactivate"],
    )
    def deactivate_voters(self, request: HttpRequest, queryset: QuerySet[Vote]) -> None:
        User = get_user_model()
        voters = User.objects.filter(pk__in=queryset.values("voter_id"), is_active=True).order_by("pk")
        count = 0
        for user in voters:
            voter_set_active(user=user, active=False)
            count += 1
        self.message_user(request, f"Deactivated {count} accounts; their votes are kept but no longer count.")

    def has_deactivate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{get_user_model()._meta.app_label}.change_{get_user_model()._meta.model_name}")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = ["status"]
    search_fields = ["email"]
    readonly_fields = ["created_at", "confirmed_at", "unsubscribed_at"]
    date_hierarchy = "created_at"


class _ClaimedUsernameForm:
    """Staff creating or renaming an account meet the same look-alike rule as registration."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        reason = usernames.conflict(username, exclude_user_id=self.instance.pk)
        if reason is not None:
            raise forms.ValidationError(TAKEN if reason == "unique" else LOOKS_TAKEN, code=reason)
        return username


class ClaimedUserCreationForm(_ClaimedUsernameForm, AdminUserCreationForm):
    pass


class ClaimedUserChangeForm(_ClaimedUsernameForm, UserChangeForm):
    pass


class VoterInline(admin.StackedInline):
    model = Voter
    can_delete = False
    readonly_fields = ["email_normalised", "email_verified_at", "votes_count"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: AbstractBaseUser | None = None) -> bool:
        return False


class VoterAwareUserAdmin(UserAdmin):
    """Account changes that move votes go through the vote service, so counters stay exact:
    deleting an account removes its votes; (de)activating one takes its votes out of (or back
    into) the tallies. A new or renamed username claims its forms (votes.usernames) as
    registration does."""

    add_form = ClaimedUserCreationForm
    form = ClaimedUserChangeForm
    inlines = [VoterInline]
    actions = ["deactivate", "activate"]

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: AbstractBaseUser, form: ModelForm, change: bool) -> None:
        if change and "is_active" in form.changed_data:
            active = obj.is_active
            obj.is_active = not active  # the form's other fields are saved first, the standing by the service
            super().save_model(request, obj, form, change)
            voter_set_active(user=obj, active=active)
        else:
            super().save_model(request, obj, form, change)
        username_claim(user=obj)

    def delete_model(self, request: HttpRequest, obj: AbstractBaseUser) -> None:
        voter_delete(voter=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            voter_delete(voter=user)

    @admin.action(description="Deactivate the selected accounts (their votes stop counting)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset.filter(is_active=True).order_by("pk"):
            voter_set_active(user=user, active=False)
        messages.success(request, "Deactivated; their votes are kept but no longer count.")

    @admin.action(description="Reactivate the selected accounts (verified ones count again)", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset.filter(is_active=False).order_by("pk"):
            voter_set_active(user=user, active=True)
        messages.success(request, "Reactivated; the votes of those with a verified address count again.")


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), VoterAwareUserAdmin)


# Voters' API tokens: staff may see and revoke them (delete), never make one by hand (a token
# made in the admin would be shown on screen and belong to nobody's login).
admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class VoterTokenAdmin(AuthTokenAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False
