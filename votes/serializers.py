from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import get_error_detail

from compare_api.fields import TallySerializer
from tools.models import Verdict

User = get_user_model()


class RegisterSerializer(serializers.ModelSerializer):
    # The same bound as logging in, so no account is created that could never log in.
    password = serializers.CharField(
        write_only=True, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)

    class Meta:
        model = User
        fields = ["username", "email", "password"]

    def validate_username(self, value: str) -> str:
        # Look-alike accounts ("Ada" beside "ada") are refused.
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.", code="unique")
        return value

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            # get_error_detail keeps each validator's code (password_too_short, ...).
            raise serializers.ValidationError({"password": get_error_detail(error)}) from None
        return attrs

    def create(self, validated_data: dict) -> AbstractBaseUser:
        try:
            with transaction.atomic():
                return User.objects.create_user(**validated_data)
        except IntegrityError:  # lost a race for the username after the unique check passed
            raise serializers.ValidationError(
                {"username": [ErrorDetail("A user with that username already exists.", code="unique")]}
            ) from None


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )

    def validate(self, attrs: dict) -> dict:
        user = authenticate(self.context["request"]._request, username=attrs["username"], password=attrs["password"])
        if user is None:
            # The same answer for an unknown user and a wrong password.
            raise serializers.ValidationError(
                "Unable to log in with the username and password given.", code="invalid_credentials"
            )
        return {**attrs, "user": user}


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`. Shown once; stored hashed.")
    expiry = serializers.DateTimeField(help_text="When the token stops working.")


class VoteRequestSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)


class VoteSerializer(serializers.Serializer):
    """The caller's vote on a tool, with the tool's community tally after it."""

    tool = serializers.SlugField(source="tool.slug")
    verdict = serializers.ChoiceField(choices=Verdict.choices)
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


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
