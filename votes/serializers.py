import disposable_email_domains
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import get_error_detail

from compare_api.fields import TallySerializer
from tools.models import Verdict
from votes import services, usernames
from votes.emails import normalise_address
from votes.models import Voter

User = get_user_model()
TAKEN = "A user with that username already exists."
LOOKS_TAKEN = "This username looks the same as an existing account's; choose another."

ADDRESS_TAKEN = "An account with this email address already exists."


def is_disposable(domain: str) -> bool:
    """Whether `domain`, or a domain it is under (`x.mailinator.com`), is a known disposable-mail domain."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in disposable_email_domains.blocklist for i in range(len(labels) - 1))


def _password_field(**kwargs: object) -> serializers.CharField:
    # The same bound everywhere a password is read, so none is accepted that could never be used.
    return serializers.CharField(
        max_length=4096, write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs
    )


class RegisterSerializer(serializers.ModelSerializer):
    # The same bound as logging in, so no account is created that could never log in.
    password = _password_field()
    email = serializers.EmailField(
        max_length=254,
        help_text="Required: one account per address. A verification link is emailed here; "
        "the account's votes count once it is followed.",
    )

    class Meta:
        model = User
        fields = ["username", "email", "password"]

    def validate_username(self, value: str) -> str:
        # Look-alike accounts are refused: "ADA" or fullwidth "ａｄａ" beside "Ada" (the same
        # canonical form), and Cyrillic "аda" or Greek "Αda" (the same skeleton): votes.usernames.
        stored = usernames.validate(value)
        match usernames.conflict(stored):
            case "unique":
                raise serializers.ValidationError(TAKEN, code="unique")
            case "confusable":
                raise serializers.ValidationError(LOOKS_TAKEN, code="confusable")
        return stored

    def validate_email(self, value: str) -> str:
        email = value.strip()
        domain = email.rpartition("@")[2].casefold()
        try:
            domain.encode("idna")
        except UnicodeError:
            raise serializers.ValidationError("Enter an email address with a valid domain.", code="invalid") from None
        if is_disposable(domain):
            raise serializers.ValidationError(
                "Addresses at disposable-mail domains cannot register.", code="disposable"
            )
        # Registration already tells whether a username is taken; an address is told the
        # same way (see the README on why), and the per-IP limit bounds the probing.
        if Voter.objects.filter(email_normalised=normalise_address(email)).exists():
            raise serializers.ValidationError(ADDRESS_TAKEN, code="unique")
        return email

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            # get_error_detail keeps each validator's code (password_too_short, ...).
            raise serializers.ValidationError({"password": get_error_detail(error)}) from None
        return attrs

    def create(self, validated_data: dict) -> AbstractBaseUser:
        # A race lost after the unique checks above passed gets their answer.
        try:
            return services.voter_register(**validated_data)
        except services.UsernameTaken:  # lost a race for the username (or a look-alike) after the check passed
            raise serializers.ValidationError({"username": [ErrorDetail(TAKEN, code="unique")]}) from None
        except services.AddressTaken:
            raise serializers.ValidationError({"email": [ErrorDetail(ADDRESS_TAKEN, code="unique")]}) from None


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, help_text="In any case or Unicode (NFKC) spelling.")
    password = _password_field()


class PasswordChangeSerializer(serializers.Serializer):
    old_password = _password_field()
    new_password = _password_field()


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The account's email address (any case).")


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token from the link in the email.")
    new_password = _password_field()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`. Shown once; stored hashed.")
    expiry = serializers.DateTimeField(help_text="When the token stops working.")


class VoteRequestSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)


class VoteSerializer(serializers.Serializer):
    """The caller's vote on a tool, with the tool's community tally after it."""

    tool = serializers.SlugField(source="tool.slug")
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    counted = serializers.BooleanField(
        help_text="Whether the community tally counts this vote: only votes of voters whose email "
        "address is verified and whose account is active count (the vote is kept either way)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    community = TallySerializer(source="tool.community")


class SubscriptionRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)

    def validate_email(self, value: str) -> str:
        """The address as stored: trimmed, lower-cased, and still deliverable and short enough."""
        email = value.strip().lower()
        domain = email.rpartition("@")[2]
        try:
            domain.encode("idna")
        except UnicodeError:
            raise serializers.ValidationError("Enter an email address with a valid domain.", code="invalid") from None
        if len(email) > 254:
            raise serializers.ValidationError("Ensure this field has no more than 254 characters.", code="max_length")
        return email


class SubscriptionTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token from the link in the email.")


class VerificationTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token from the verification email's link.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
