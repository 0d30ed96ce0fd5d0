import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def claim_existing_usernames(apps, schema_editor) -> None:
    """Every account gets its canonical form and skeleton. Where older accounts already share
    one (registration only compared case before), the oldest account keeps it and the later
    ones get null there: they still log in by their exact username, and no new account can take
    the form; staff may rename them."""
    from votes import usernames  # the functions are the same now as when this runs

    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    UsernameClaim = apps.get_model("votes", "UsernameClaim")
    canonicals: set[str] = set()
    skeletons: set[str] = set()
    claims = []
    for user_id, username in User.objects.order_by("pk").values_list("pk", "username").iterator(chunk_size=2000):
        canonical, skeleton = usernames.canonical(username), usernames.skeleton(username)
        claims.append(
            UsernameClaim(
                user_id=user_id,
                canonical=None if canonical in canonicals else canonical,
                skeleton=None if skeleton in skeletons else skeleton,
            )
        )
        canonicals.add(canonical)
        skeletons.add(skeleton)
    UsernameClaim.objects.bulk_create(claims, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("votes", "0003_vote_foreign_keys_use_the_composite_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UsernameClaim",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="username_claim",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("canonical", models.TextField(help_text="NFKC, case-folded.", null=True, unique=True)),
                (
                    "skeleton",
                    models.TextField(
                        help_text="Unicode TR39 confusable skeleton of `canonical`.", null=True, unique=True
                    ),
                ),
            ],
        ),
        migrations.RunPython(claim_existing_usernames, migrations.RunPython.noop, elidable=False),
    ]
