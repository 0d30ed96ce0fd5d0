"""Change capture: catalog and panel writes become events, in the transaction of the write.

Connected to the models' signals in events/apps.py, against the house rule,
because `tools` and `reviews` must not know `events`, and because the admin,
the seed command, cascades and bulk deletes all save or delete through the
model, never through one service; signals are the one hook every path runs.
Every such path is atomic (the admin's change and delete views, a queryset's
delete, `seed_load`), so an event exists exactly when its change committed.

The state before a save is read from the database in pre_save (one query; these
writes are staff edits, rare). A review is *visible* while it and its tool are
published and its reviewer is on the panel: it is published, updated and
withdrawn as it enters, changes within and leaves that state.
"""

from collections.abc import Mapping
from typing import Any

from django.db.models import Model
from django.utils import timezone

from compare_api.slugs import COMPARISON_SEPARATOR
from events.services import event_record, tallies_of, tally_snapshots_write
from reviews.models import Comparison, Review, Reviewer
from tools.models import COMMUNITY_COUNTERS, PANEL_COUNTERS, Tool
from tools.serializers import TOOL_COLUMNS, tool_document

# The tool document's fields that are not tallies: tool.updated names the ones that changed.
_TALLIES = ("panel", "community")
_REVIEW_FIELDS = ("verdict", "body")
_COMPARISON_FIELDS = ("slug", "title", "headline", "summary")


def _remember(instance: Model, before: object) -> None:
    instance._events_before = before


def _before(instance: Model) -> Any:
    return instance.__dict__.pop("_events_before", None)


# Tools


def _tool_row(pk: int) -> dict | None:
    return Tool.objects.filter(pk=pk).values(*TOOL_COLUMNS, "is_published").first()


def _tallies(row: Mapping) -> dict:
    return tallies_of(*(row[counter] for counter in (*PANEL_COUNTERS, *COMMUNITY_COUNTERS)))


def tool_before_save(sender: type, instance: Tool, **kwargs: object) -> None:
    _remember(instance, None if instance._state.adding else _tool_row(instance.pk))


def tool_saved(sender: type, instance: Tool, created: bool, **kwargs: object) -> None:
    before, after = _before(instance), _tool_row(instance.pk)
    was_published = bool(before and before["is_published"])
    ref = {"id": instance.pk, "slug": after["slug"]}
    if after["is_published"] and not was_published:
        event_record("tool.published", {**ref, "name": after["name"], **_tallies(after)})
        tally_snapshots_write(tools=Tool.objects.filter(pk=instance.pk), on=timezone.localdate())
    elif was_published and not after["is_published"]:
        event_record("tool.unpublished", ref)
    elif was_published:
        old, new = tool_document(before), tool_document(after)
        changes = {key: value for key, value in new.items() if key not in _TALLIES and old[key] != value}
        if changes:
            event_record("tool.updated", {**ref, "changes": changes})


def tool_before_delete(sender: type, instance: Tool, **kwargs: object) -> None:
    if Tool.objects.filter(pk=instance.pk, is_published=True).exists():
        event_record("tool.unpublished", {"id": instance.pk, "slug": instance.slug})


# Reviews

_REVIEW_STATE = (
    "verdict",
    "body",
    "is_published",
    "tool_id",
    "tool__slug",
    "tool__is_published",
    "reviewer_id",
    "reviewer__slug",
    "reviewer__is_active",
    "correction",
    "corrected_at",
)


def _review_state(pk: int) -> dict | None:
    return Review.objects.filter(pk=pk).values(*_REVIEW_STATE).first()


def _visible(state: Mapping | None) -> bool:
    return bool(state and state["is_published"] and state["tool__is_published"] and state["reviewer__is_active"])


def _review_ref(pk: int, state: Mapping) -> dict:
    return {
        "id": pk,
        "tool": {"id": state["tool_id"], "slug": state["tool__slug"]},
        "reviewer": {"id": state["reviewer_id"], "slug": state["reviewer__slug"]},
        "verdict": state["verdict"],
    }


def review_before_save(sender: type, instance: Review, **kwargs: object) -> None:
    _remember(instance, None if instance._state.adding else _review_state(instance.pk))


def review_saved(sender: type, instance: Review, created: bool, **kwargs: object) -> None:
    before, after = _before(instance), _review_state(instance.pk)
    if _visible(after) and not _visible(before):
        event_record("review.published", _review_ref(instance.pk, after))
    elif _visible(before) and not _visible(after):
        event_record("review.withdrawn", _review_ref(instance.pk, before))
    elif _visible(after):
        changed = [field for field in _REVIEW_FIELDS if before[field] != after[field]]
        if changed:
            # The note readers see with this change, when the change came with one (the admin asks for it).
            noted = after["corrected_at"] != before["corrected_at"]
            payload = {
                **_review_ref(instance.pk, after),
                "changed": changed,
                "previous_verdict": before["verdict"],
                "correction": after["correction"] if noted else None,
            }
            event_record("review.updated", payload)


def review_before_delete(sender: type, instance: Review, **kwargs: object) -> None:
    # Before the cascade (a tool or reviewer deleted) removes the rows that make it visible.
    state = _review_state(instance.pk)
    if _visible(state):
        event_record("review.withdrawn", _review_ref(instance.pk, state))


# Reviewers


def _reviewer_ref(reviewer: Reviewer) -> dict:
    return {"id": reviewer.pk, "slug": reviewer.slug, "name": reviewer.name}


def reviewer_before_save(sender: type, instance: Reviewer, **kwargs: object) -> None:
    active = None if instance._state.adding else Reviewer.objects.filter(pk=instance.pk).values_list("is_active")
    _remember(instance, bool(active and active[0][0]))


def reviewer_saved(sender: type, instance: Reviewer, created: bool, **kwargs: object) -> None:
    was_active = _before(instance)
    if instance.is_active and not was_active:
        event_record("reviewer.joined", _reviewer_ref(instance))
    elif was_active and not instance.is_active:
        event_record("reviewer.left", _reviewer_ref(instance))


def reviewer_before_delete(sender: type, instance: Reviewer, **kwargs: object) -> None:
    if Reviewer.objects.filter(pk=instance.pk, is_active=True).exists():
        event_record("reviewer.left", _reviewer_ref(instance))


# Curated comparisons


def _comparison_state(pk: int) -> dict | None:
    row = (
        Comparison.objects.filter(pk=pk)
        .values("is_published", "title", "headline", "summary", "left_tool__slug", "right_tool__slug")
        .first()
    )
    if row is None:
        return None
    return {
        "is_published": row["is_published"],
        "slug": f"{row['left_tool__slug']}{COMPARISON_SEPARATOR}{row['right_tool__slug']}",
        "title": row["title"],
        "headline": row["headline"] or None,
        "summary": row["summary"] or None,
    }


def comparison_before_save(sender: type, instance: Comparison, **kwargs: object) -> None:
    _remember(instance, None if instance._state.adding else _comparison_state(instance.pk))


def comparison_saved(sender: type, instance: Comparison, created: bool, **kwargs: object) -> None:
    before, after = _before(instance), _comparison_state(instance.pk)
    was_published = bool(before and before["is_published"])
    ref = {"id": instance.pk, "slug": after["slug"]}
    if after["is_published"] and not was_published:
        event_record("comparison.published", {**ref, "title": after["title"]})
    elif was_published and not after["is_published"]:
        event_record("comparison.unpublished", ref)
    elif was_published:
        changes = {field: after[field] for field in _COMPARISON_FIELDS if before[field] != after[field]}
        if changes:
            event_record("comparison.updated", {**ref, "changes": changes})


def comparison_before_delete(sender: type, instance: Comparison, **kwargs: object) -> None:
    state = _comparison_state(instance.pk)
    if state and state["is_published"]:
        event_record("comparison.unpublished", {"id": instance.pk, "slug": state["slug"]})


def capture_changes() -> None:
    """Connect the receivers above (events/apps.py)."""
    from django.db.models.signals import post_save, pre_delete, pre_save

    for model, before_save, saved, before_delete in (
        (Tool, tool_before_save, tool_saved, tool_before_delete),
        (Review, review_before_save, review_saved, review_before_delete),
        (Reviewer, reviewer_before_save, reviewer_saved, reviewer_before_delete),
        (Comparison, comparison_before_save, comparison_saved, comparison_before_delete),
    ):
        name = model.__name__
        pre_save.connect(before_save, sender=model, dispatch_uid=f"events-before-save-{name}")
        post_save.connect(saved, sender=model, dispatch_uid=f"events-saved-{name}")
        pre_delete.connect(before_delete, sender=model, dispatch_uid=f"events-before-delete-{name}")
