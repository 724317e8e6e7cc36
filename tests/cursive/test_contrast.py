"""Text in the dashboard reads at 4.5:1 or more (WCAG 2 AA for normal text), checked on the stylesheet itself:
the palette's text/background pairs, and the rules that set both a text colour and a background of their own."""

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
AA = 4.5


def _root() -> dict[str, str]:
    block = re.search(r":root\s*{(.*?)}", CSS, re.S).group(1)
    block = re.sub(r"/\*.*?\*/", "", block, flags=re.S)
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", block))


PALETTE = _root()


def _rule(selector: str) -> dict[str, str]:
    """The declarations of the first top-level rule whose selector list is exactly `selector`."""
    for selectors, body in re.findall(r"(?m)^([^{}@/\n][^{}]*?)\s*{([^{}]*)}", CSS):
        if selector in (part.strip() for part in selectors.split(",")):
            return dict((name.strip(), value.strip()) for name, value in re.findall(r"([\w-]+):\s*([^;]+)", body))
    raise AssertionError(f"no rule for {selector}")


def _colour(value: str) -> str:
    value = value.strip()
    while value.startswith("var("):
        value = PALETTE[value[4:-1].strip()].strip()
    assert re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value), value
    return value


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((luminance(_colour(foreground)), luminance(_colour(background))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


PAIRS = [
    # text on the page, on panels and on the soft backgrounds of badges and notices
    *[("--ink", bg) for bg in ("--bg", "--panel", "--brand-soft", "--ok-soft", "--warn-soft", "--bad-soft")],
    *[("--muted", bg) for bg in ("--bg", "--panel", "--brand-soft", "--ok-soft", "--warn-soft")],
    *[("--brand", bg) for bg in ("--bg", "--panel", "--brand-soft")],
    ("--brand-ink", "--brand"),
    # green badges and amounts, warnings, errors and the danger button
    *[("--ok", bg) for bg in ("--bg", "--panel", "--ok-soft")],
    *[("--warn", bg) for bg in ("--panel", "--warn-soft")],
    *[("--bad", bg) for bg in ("--bg", "--panel", "--bad-soft")],
    # the sidebar: its links, section names and the "+ New workspace" link
    *[(fg, "--side-bg") for fg in ("--side-ink", "--side-muted", "--side-link")],
    ("--side-ink", "--side-hover"),
]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_palette_pairs_reach_aa(text, background):
    ratio = contrast(f"var({text})", f"var({background})")
    assert ratio >= AA, f"{text} on {background}: {ratio:.2f}:1"


# Rules that set a text colour on a background of their own (the background taken from another rule when the
# element sits on one: a toast's button on the toast).
RULES = [
    (".badge", ".badge"),
    (".badge-ok", ".badge-ok"),
    (".badge-warn", ".badge-warn"),
    (".badge-bad", ".badge-bad"),
    (".badge-brand", ".badge-brand"),
    (".btn-primary", ".btn-primary"),
    (".btn.in-cart", ".btn.in-cart"),
    (".notice-warn", ".notice-warn"),
    (".notice-ok", ".notice-ok"),
    (".toast", ".toast"),
    (".toast button", ".toast"),
    (".secret", ".secret"),
    (".li", ".li"),
]


@pytest.mark.parametrize(("text_rule", "background_rule"), RULES)
def test_rules_with_their_own_background_reach_aa(text_rule, background_rule):
    text = _rule(text_rule)["color"]
    background = re.split(r"\s+", _rule(background_rule)["background"])[0]
    ratio = contrast(text, background)
    assert ratio >= AA, f"{text_rule} ({text} on {background}): {ratio:.2f}:1"


def test_sidebar_links_use_the_sidebar_palette():
    """The "+ New workspace" link sits on the dark sidebar: the brand colour made for white panels reads at 2.9:1."""
    assert _rule(".sidebar-foot a")["color"] == "var(--side-link)"
    assert _rule(".sidebar")["background"] == "var(--side-bg)"
