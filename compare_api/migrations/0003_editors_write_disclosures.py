"""Editors write reviewers' disclosures too (edited inline on the reviewer's page)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = ("add", "change", "delete", "view")


def grant(apps, schema_editor) -> None:
    app_config = apps.get_app_config("reviews")
    models_module, app_config.models_module = getattr(app_config, "models_module", None), True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Editors").first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="reviews",
                codename__in=[f"{action}_reviewerdisclosure" for action in ACTIONS],
            )
        )


def revoke(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Editors"):
        group.permissions.remove(*group.permissions.filter(codename__endswith="_reviewerdisclosure"))


class Migration(migrations.Migration):
    dependencies = [
        ("compare_api", "0002_editors_group"),
        ("reviews", "0003_history_corrections_disclosures"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
