"""Staff roles and the admin as an editorial team meets it: the Editors group, the site's titles and
labels, tokens nobody makes by hand, and tools in and out as CSV with a preview first."""

import csv
import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import UserFactory
from tools.models import Tool

pytestmark = pytest.mark.django_db


def editors_group() -> Group:
    """The group as its migration made it. A transactional test's flush empties every table,
    rows made by data migrations included, so tests after one make it again the same way."""
    if not Group.objects.filter(name="Editors").exists():
        importlib.import_module("compare_api.migrations.0002_editors_group").create_editors(django_apps, None)
        importlib.import_module("compare_api.migrations.0003_editors_write_disclosures").grant(django_apps, None)
    return Group.objects.get(name="Editors")


@pytest.fixture
def editor(client: Client) -> Client:
    user = UserFactory(username="eddie", is_staff=True)
    user.groups.add(editors_group())
    client.force_login(user)
    return client


def test_the_editors_group_holds_exactly_the_editorial_permissions() -> None:
    held = sorted(
        f"{permission.content_type.app_label}.{permission.codename}"
        for permission in editors_group().permissions.select_related("content_type")
    )
    writes = [
        f"{app}.{action}_{model}"
        for app, model in [
            ("reviews", "comparison"),
            ("reviews", "review"),
            ("reviews", "reviewer"),
            ("reviews", "reviewerdisclosure"),
            ("tools", "category"),
            ("tools", "tool"),
            ("tools", "vendor"),
        ]
        for action in ("add", "change", "delete", "view")
    ]
    assert held == sorted([*writes, "votes.delete_vote", "votes.view_vote"])


@pytest.mark.parametrize(
    "page",
    [
        "/admin/",
        "/admin/tools/tool/",
        "/admin/tools/tool/add/",
        "/admin/tools/vendor/add/",
        "/admin/reviews/review/add/",
        "/admin/reviews/reviewer/add/",
        "/admin/reviews/comparison/add/",
        "/admin/votes/vote/",
        "/admin/tools/tool/import/",
        "/admin/tools/tool/export/",
    ],
)
def test_an_editor_can_write_the_catalog_the_panel_and_moderate_votes(editor: Client, seeded, page: str) -> None:
    assert editor.get(page).status_code == 200


@pytest.mark.parametrize(
    "page",
    [
        "/admin/auth/user/",
        "/admin/auth/group/",
        "/admin/partners/partnerkey/",
        "/admin/webhooks/endpoint/",
        "/admin/knox/authtoken/",
        "/admin/votes/subscriber/",
    ],
)
def test_an_editor_cannot_manage_users_keys_webhooks_or_tokens(editor: Client, page: str) -> None:
    assert editor.get(page).status_code == 403


def test_an_editor_cannot_deactivate_voters_from_the_votes_list(editor: Client, seeded) -> None:
    actions = editor.get("/admin/votes/vote/").context["action_form"].fields["action"].choices
    # Deleting goes through the vote service as "Remove the selected votes" does (VoteAdmin.delete_queryset).
    assert [name for name, _ in actions if name] == ["delete_selected", "remove_votes"]


@pytest.fixture
def superuser(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
    return client


def test_the_admin_is_titled_for_the_site_and_view_site_goes_somewhere(superuser: Client, settings) -> None:
    page = superuser.get("/admin/").content.decode()
    assert "<title>Site administration | AI Tool Verdicts staff</title>" not in page
    assert "AI Tool Verdicts: staff" in page
    assert "Django administration" not in page
    assert 'href="/api/docs/">View site' in page
    settings.ADMIN_VIEW_SITE_URL = "https://verdicts.example"
    assert 'href="https://verdicts.example">View site' in superuser.get("/admin/").content.decode()


def test_labels_read_as_english(superuser: Client, seeded) -> None:
    tool_form = superuser.get("/admin/tools/tool/add/").content.decode()
    for label in ("Lowest price (USD):", "Homepage URL:", "Context window (tokens):", "Published"):
        assert f">{label}</label>" in tool_form, label
    tool_list = superuser.get("/admin/tools/tool/").content.decode()
    assert "By published" in tool_list and "By is published" not in tool_list
    assert "Homepage URL" in superuser.get("/admin/tools/vendor/").content.decode()
    assert "By on the panel" in superuser.get("/admin/reviews/reviewer/").content.decode()


def test_tokens_cannot_be_made_by_hand(superuser: Client) -> None:
    assert superuser.get("/admin/knox/authtoken/add/").status_code == 403
    assert superuser.get("/admin/knox/authtoken/").status_code == 200


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_tools_export_as_csv(editor: Client, seeded) -> None:
    response = editor.post("/admin/tools/tool/export/", {"format": "0", "resource": "0"})
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        # import-export 4 asks which fields first; take them all.
        form = response.context["form"]
        data = {"format": "0", "resource": "0", **{name: "on" for name in form.fields if name.startswith("tool")}}
        response = editor.post("/admin/tools/tool/export/", data)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["slug"] for row in rows] == ["code-llama-4", "mistral-large-3"]
    assert rows[0]["vendor"] == "meta" and rows[0]["category"] == "developer-tools"
    assert "community_ship_count" not in rows[0]


NEW_TOOL = {
    "slug": "zed-ai",
    "name": "Zed AI",
    "vendor": "meta",
    "category": "developer-tools",
    "tagline": "An editor's assistant",
    "description": "",
    "pricing_tier": "free",
    "pricing_label": "",
    "price_from_usd": "",
    "price_unit": "",
    "licence": "",
    "open_weights": "0",
    "context_window_tokens": "",
    "homepage_url": "https://zed.example",
    "is_published": "1",
}


def _import(client: Client, body: bytes):
    upload = SimpleUploadedFile("tools.csv", body, content_type="text/csv")
    return client.post("/admin/tools/tool/import/", {"import_file": upload, "format": "0", "resource": "0"})


def test_an_import_previews_first_and_writes_only_when_confirmed(editor: Client, seeded) -> None:
    preview = _import(editor, _csv([NEW_TOOL, {**NEW_TOOL, "slug": "code-llama-4", "name": "Code Llama 4.1"}]))

    assert preview.status_code == 200
    assert not Tool.objects.filter(slug="zed-ai").exists()  # the preview wrote nothing
    assert Tool.objects.get(slug="code-llama-4").name == "Code Llama 4"
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["new", "update"]
    confirm = preview.context["confirm_form"]

    done = editor.post("/admin/tools/tool/process_import/", {**confirm.initial, **confirm.data}, follow=True)

    assert done.status_code == 200
    assert Tool.objects.get(slug="zed-ai").vendor.slug == "meta"
    renamed = Tool.objects.get(slug="code-llama-4")
    assert renamed.name == "Code Llama 4.1"
    assert (renamed.panel_ship_count, renamed.panel_skip_count) == (3, 1)  # the counters are not the CSV's


def test_an_import_with_a_bad_row_writes_nothing(editor: Client, seeded) -> None:
    bad = {**NEW_TOOL, "slug": "a-vs-b", "name": "Reserved slug"}
    unknown_vendor = {**NEW_TOOL, "slug": "orphan", "vendor": "nobody"}

    preview = _import(editor, _csv([NEW_TOOL, bad, unknown_vendor]))

    result = preview.context["result"]
    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert list(invalid) == [2]
    assert "may not contain '-vs-'" in str(invalid[2]["slug"])
    failed = dict(result.row_errors())
    assert list(failed) == [3]
    assert "Vendor matching query does not exist" in str(failed[3][0].error)
    assert "Confirm import" not in preview.content.decode()
    assert not Tool.objects.filter(slug__in=["zed-ai", "a-vs-b", "orphan"]).exists()
