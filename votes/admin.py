from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from votes import usernames
from votes.accounts import username_claim
from votes.models import Subscriber, Vote
from votes.serializers import LOOKS_TAKEN, TAKEN
from votes.services import voter_delete, votes_remove


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Moderation: staff see and remove votes; the tool counters follow through the service."""

    list_display = ["tool", "voter", "verdict", "created_at", "updated_at"]
    list_filter = ["verdict", "tool__category"]
    list_select_related = ["tool", "voter"]
    search_fields = ["voter__username", "tool__name", "tool__slug"]
    readonly_fields = ["voter", "tool", "verdict", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Vote | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Vote) -> None:
        votes_remove(votes=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Vote]) -> None:
        votes_remove(votes=list(queryset))


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


class VoterAwareUserAdmin(UserAdmin):
    """Deleting accounts removes their votes through the vote service, so counters stay exact;
    a new or renamed username claims its forms (votes.usernames) as registration does."""

    add_form = ClaimedUserCreationForm
    form = ClaimedUserChangeForm

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: AbstractBaseUser, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        username_claim(user=obj)

    def delete_model(self, request: HttpRequest, obj: AbstractBaseUser) -> None:
        voter_delete(voter=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            voter_delete(voter=user)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), VoterAwareUserAdmin)
