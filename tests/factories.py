import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from reviews.models import Comparison, Relationship, Review, Reviewer, ReviewerDisclosure
from tools.models import Category, PricingTier, Tool, Vendor, Verdict
from votes import accounts
from votes.emails import normalise_address
from votes.models import Voter


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class ToolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tool

    name = factory.Sequence(lambda n: f"Tool {n}")
    slug = factory.Sequence(lambda n: f"tool-{n}")
    vendor = factory.SubFactory(VendorFactory)
    category = factory.SubFactory(CategoryFactory)
    tagline = factory.LazyAttribute(lambda tool: f"The tagline of {tool.name}")
    description = factory.LazyAttribute(lambda tool: f"What {tool.name} does.")
    pricing_tier = PricingTier.FREEMIUM
    # The models default to drafts; the factories to published rows, so a test means what it
    # always meant. Tests of drafts ask for one: ToolFactory(is_published=False).
    is_published = True


class ReviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reviewer

    name = factory.Sequence(lambda n: f"Reviewer {n}")
    slug = factory.Sequence(lambda n: f"reviewer-{n}")
    lens = "Developer experience"
    position = factory.Sequence(lambda n: n + 1)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    reviewer = factory.SubFactory(ReviewerFactory)
    tool = factory.SubFactory(ToolFactory)
    verdict = Verdict.SHIP
    body = factory.LazyAttribute(lambda review: f"{review.reviewer.name} on {review.tool.name}.")
    is_published = True  # published by default, as ToolFactory (a draft: is_published=False)


class ReviewerDisclosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewerDisclosure

    reviewer = factory.SubFactory(ReviewerFactory)
    vendor = factory.SubFactory(VendorFactory)
    relationship = Relationship.CONSULTANT
    since = datetime.date(2025, 1, 1)


class ComparisonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comparison

    left_tool = factory.SubFactory(ToolFactory)
    right_tool = factory.SubFactory(ToolFactory)
    title = factory.LazyAttribute(lambda c: f"{c.left_tool.name} vs {c.right_tool.name}")
    headline = "Which one should you ship with?"
    is_published = True  # published by default, as ToolFactory (a draft: is_published=False)


class UserFactory(factory.django.DjangoModelFactory):
    """A voter account as registration makes it, with its address already verified so its
    votes count; `UserFactory(verified=False)` for one whose votes do not."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True  # the hooks below write their own rows, not the user's

    username = factory.Sequence(lambda n: f"voter{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def username_claim(self, create: bool, extracted: object, **kwargs: object) -> None:
        # As registration does: the account's username forms are taken (votes.usernames).
        if create:
            accounts.username_claim(user=self)

    @factory.post_generation
    def verified(user, create: bool, extracted: bool | None, **kwargs) -> None:
        if not create:
            return
        verified = extracted is not False
        Voter.objects.create(
            user=user,
            email_normalised=normalise_address(user.email) if user.email else None,
            email_verified_at=timezone.now() if verified else None,
            votes_count=verified and user.is_active,
        )
