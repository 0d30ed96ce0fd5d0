"""Embeddable badges: a tool's panel or community tally as a small SVG, or as shields.io's
endpoint-badge JSON. Plain functions of the tally: no query, no request.

The texts are made from a closed alphabet (the two labels, digits, a few words and
separators; never a tool's name), so the layout needs widths for those glyphs only:
WIDTHS below, rather than a badge library (README, "Badges", says why).
"""

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from compare_api.stats import RANKING_METHOD, Tally

METRICS = ("panel", "community")
DEFAULT_METRIC = "panel"
THEMES = ("light", "dark", "auto")
DEFAULT_THEME = "light"
NO_DATA = "—"

# Advance widths of DejaVu Sans at 110 px (so tenths of a pixel at the badges' 11 px),
# from pybadges 3.0.1's precalculated table (Apache-2.0). Kerning between these glyphs
# is at most 0.1 px, so it is left out. tests/discovery/test_badges.py checks that every
# text a badge can show is covered.
WIDTHS = {
    " ": 35, "%": 105, ",": 35, "/": 38, "·": 35, "—": 110,
    **dict.fromkeys("0123456789", 70),
    "C": 77, "P": 66, "a": 67, "d": 70, "e": 68, "h": 70, "i": 31, "l": 31, "m": 107,
    "n": 70, "o": 67, "p": 70, "s": 57, "t": 43, "u": 70, "v": 65, "y": 65,
}  # fmt: skip
FONT = "DejaVu Sans,Verdana,Geneva,sans-serif"
HEIGHT = 20
PADDING = 6  # px each side of a text

# (background, text) per part and lean, chosen for a text contrast of at least 4.5:1 (WCAG AA).
# The lean is what the Wilson 95% interval says: wholly above one half is `ship`, wholly
# below `skip`, across it `split`; `none` when there is no rate to show.
PALETTES = {
    "light": {
        "label": ("#555555", "#ffffff"),
        "ship": ("#1a7f37", "#ffffff"),
        "split": ("#9a6700", "#ffffff"),
        "skip": ("#cf222e", "#ffffff"),
        "none": ("#656d76", "#ffffff"),
    },
    "dark": {
        "label": ("#3d444d", "#f0f6fc"),
        "ship": ("#3fb950", "#0d1117"),
        "split": ("#d29922", "#0d1117"),
        "skip": ("#ff7b72", "#0d1117"),
        "none": ("#9198a1", "#0d1117"),
    },
}


@dataclass(frozen=True, slots=True)
class Badge:
    label: str  # "Panel"
    message: str  # "3/4 ship"
    spoken: str  # the title and aria-label: "Panel: 3 of 4 reviews say ship"
    lean: str  # "ship", "split", "skip" or "none"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _lean(tally: Tally) -> str:
    low, high = tally.ci95 or (0.0, 1.0)
    return "ship" if low > 0.5 else "skip" if high < 0.5 else "split"


def _percent(ship: int, total: int) -> int:
    return (200 * ship + total) // (2 * total)  # rounded half up, in integers


def panel_badge(tally: Tally) -> Badge:
    """`Panel 3/4 ship`: ship verdicts of the reviews the active panel wrote."""
    if not tally.total:
        return Badge("Panel", NO_DATA, "Panel: no reviews yet", "none")
    spoken = f"Panel: {tally.ship:,} of {_count(tally.total, 'review')} say ship"
    return Badge("Panel", f"{tally.ship:,}/{tally.total:,} ship", spoken, _lean(tally))


def community_badge(tally: Tally, *, min_total: int) -> Badge:
    """`Community 72% · 1,240 votes`; below the leaderboards' minimum only the count (a rate
    of a handful of votes would say more than it knows)."""
    if not tally.total:
        return Badge("Community", NO_DATA, "Community: no votes yet", "none")
    votes = _count(tally.total, "vote")
    if tally.total < min_total:
        message = f"{votes} · needs {min_total:,}"
        return Badge("Community", message, f"Community: {votes}, {min_total:,} needed for a rate", "none")
    percent = _percent(tally.ship, tally.total)
    return Badge("Community", f"{percent}% · {votes}", f"Community: {percent}% of {votes} say ship", _lean(tally))


def badge_for(metric: str, tally: Tally, *, min_total: int) -> Badge:
    return panel_badge(tally) if metric == "panel" else community_badge(tally, min_total=min_total)


def text_width(text: str) -> int:
    """Whole pixels at 11 px (unknown glyphs count as the widest known, so nothing overflows)."""
    return -(-sum(WIDTHS.get(char, 110) for char in text) // 10)


def shields_endpoint(badge: Badge, *, cache_seconds: int) -> dict:
    """shields.io's endpoint-badge document. Shields refuses any key outside its schema, so the
    method is not in it (it is in the response's Verdicts-Method header)."""
    return {
        "schemaVersion": 1,
        "label": badge.label,
        "message": badge.message,
        "color": PALETTES["light"][badge.lean][0],
        "cacheSeconds": cache_seconds,
    }


def _dark_style(lean: str) -> str:
    dark = PALETTES["dark"]
    return (
        "<style>@media (prefers-color-scheme: dark){"
        f".l{{fill:{dark['label'][0]}}}.m{{fill:{dark[lean][0]}}}"
        f".lt{{fill:{dark['label'][1]}}}.mt{{fill:{dark[lean][1]}}}}}</style>"
    )


def render_svg(badge: Badge, *, theme: str, slug: str) -> bytes:
    """A flat 20 px badge: label on the left, message on the right, coloured by its lean.
    `auto` is the light badge that turns dark under prefers-color-scheme: dark."""
    palette = PALETTES["dark" if theme == "dark" else "light"]
    label_bg, label_fg = palette["label"]
    message_bg, message_fg = palette[badge.lean]
    label_text, message_text = text_width(badge.label), text_width(badge.message)
    left, right = label_text + 2 * PADDING, message_text + 2 * PADDING
    width = left + right
    spoken = escape(badge.spoken)
    description = escape(
        f"AI Tool Verdicts: the {badge.label.lower()} tally of the tool '{slug}'. Method: {RANKING_METHOD}."
    )
    # No ids (clip paths, gradients): two badges inlined in one page must not collide.
    # The second label rectangle squares the first one's right corners.
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label={quoteattr(badge.spoken)} '
        f"data-method={quoteattr(RANKING_METHOD)}>",
        f"<title>{spoken}</title>",
        f"<desc>{description}</desc>",
        _dark_style(badge.lean) if theme == "auto" else "",
        f'<rect class="m" width="{width}" height="{HEIGHT}" rx="3" fill="{message_bg}"/>',
        f'<rect class="l" width="{left}" height="{HEIGHT}" rx="3" fill="{label_bg}"/>',
        f'<rect class="l" x="{left - 4}" width="4" height="{HEIGHT}" fill="{label_bg}"/>',
        f'<g font-family="{FONT}" font-size="11" text-anchor="middle" aria-hidden="true">',
        f'<text class="lt" x="{left / 2:g}" y="14" fill="{label_fg}" textLength="{label_text}" '
        f'lengthAdjust="spacing">{escape(badge.label)}</text>',
        f'<text class="mt" x="{left + right / 2:g}" y="14" fill="{message_fg}" textLength="{message_text}" '
        f'lengthAdjust="spacing">{escape(badge.message)}</text>',
        "</g></svg>",
    ]
    return "".join(parts).encode()
