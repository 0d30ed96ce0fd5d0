"""The "Editors" role: staff who write the catalog, the panel's reviews and curated comparisons,
and moderate votes, but do not manage users, partner keys, webhooks or tokens (README: "For editors")."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITORS = "Editors"
WRITE = ("add", "change", "delete", "view")
PERMISSIONS = {
    ("tools", "category"): WRITE,
    ("tools", "vendor"): WRITE,
    ("tools", "tool"): WRITE,
    ("reviews", "reviewer"): WRITE,
    ("reviews", "review"): WRITE,
    ("reviews", "comparison"): WRITE,
    # Moderation: see votes and remove them (through the vote service); deactivating a voter
    # needs the users' change permission, which editors do not have.
    ("votes", "vote"): ("view", "delete"),
}


def create_editors(apps, schema_editor) -> None:
    # Permissions are made after migrate ends; make them now so the group can hold them.
    for app_config in apps.get_app_configs():
        models_module, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=EDITORS)
    group.permissions.set(
        Permission.objects.get(content_type__app_label=app, content_type__model=model, codename=f"{action}_{model}")
        for (app, model), actions in PERMISSIONS.items()
        for action in actions
    )


def remove_editors(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=EDITORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compare_api", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tools", "0002_panel_counters"),
        ("reviews", "0002_constraint_messages"),
        ("votes", "0005_verified_voters"),
    ]

    operations = [migrations.RunPython(create_editors, remove_editors)]
