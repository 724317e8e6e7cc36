"""The documentation hub: the Markdown pages of the repository's docs/ folder, rendered once per file version.

Pages are few and change only with a release, so each is parsed when first asked for (or when its file's
modification time changes) and kept in the process; the search index is built from the same parse.
Raw HTML in the Markdown is escaped, never passed through: the pages are trusted text, but a mistake in one
must not become markup on a public page.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

DOCS_DIR = Path(settings.BASE_DIR) / "docs"

# The sidebar's order: a newcomer's path first, then each feature, then the operators' pages.
PAGE_ORDER = [
    "getting-started",
    "credits",
    "lead-search",
    "marketplace",
    "enrichment",
    "sequences",
    "pixel",
    "webhooks",
    "api",
    "partners",
    "self-hosting",
    "scaling",
    "privacy",
    "duplicates",
]

_formatter = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        return ""  # markdown-it then escapes the code itself
    return highlight(code, lexer, _formatter)


def _slug(text: str) -> str:
    return slugify(text) or "section"


_md = (
    MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    .enable("table")
    .use(anchors_plugin, min_level=2, max_level=3, slug_func=_slug, permalink=True, permalinkSymbol="#")
)


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    anchor: str


@dataclass(frozen=True)
class Section:
    """A heading and the plain text under it, up to the next heading: the unit search finds."""

    title: str
    anchor: str
    text: str
    folded_title: str = ""
    folded_text: str = ""

    def __post_init__(self):
        # Lower-cased once at parse time: search compares against these on every query.
        object.__setattr__(self, "folded_title", self.title.lower())
        object.__setattr__(self, "folded_text", self.text.lower())


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    summary: str
    html: SafeString
    toc: list[Heading]
    sections: list[Section]
    fences: list[tuple[str, str]] = field(default_factory=list)  # (info string, code), for the samples test


def page_path(slug: str) -> Path:
    return DOCS_DIR / f"{slug}.md"


def _inline_text(token) -> str:
    """The words of an inline token, without markup (code spans keep their text) or a heading's permalink."""
    words = []
    for child in token.children or []:
        if child.type == "link_open" and child.attrGet("class") == "header-anchor":
            break
        if child.type in ("softbreak", "hardbreak"):
            words.append(" ")
        elif child.type in ("text", "code_inline"):
            words.append(child.content)
    return "".join(words).strip()


def parse(slug: str, source: str) -> Page:
    env: dict = {}
    tokens = _md.parse(source, env)
    title, summary = slug, ""
    toc: list[Heading] = []
    sections: list[Section] = []
    fences: list[tuple[str, str]] = []
    current_title, current_anchor, current_text = "", "", []

    def close_section():
        if current_title or current_text:
            sections.append(Section(current_title or title, current_anchor, " ".join(current_text)))

    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            text = _inline_text(tokens[index + 1])
            level = int(token.tag[1])
            if level == 1:
                title = text
                continue
            close_section()
            anchor = token.attrGet("id") or ""
            current_title, current_anchor, current_text = text, anchor, []
            toc.append(Heading(level, text, anchor))
        elif token.type == "inline" and tokens[index - 1].type != "heading_open":
            words = _inline_text(token).replace("\n", " ")
            current_text.append(words)
            if not summary and tokens[index - 1].type == "paragraph_open":
                summary = words
        elif token.type in ("fence", "code_block"):
            # An indented block has no info string: the samples test then asks for a fenced one with a language.
            fences.append((token.info.strip(), token.content))
            current_text.append(token.content)
    close_section()
    # Safe: markdown-it escapes every character of the source that is not Markdown ("html" is off).
    rendered = mark_safe(_md.renderer.render(tokens, _md.options, env))  # noqa: S308
    return Page(slug, title, summary, rendered, toc, sections, fences)


_cache: dict[str, tuple[float, Page]] = {}
_lock = threading.Lock()


def get_page(slug: str) -> Page | None:
    """The rendered page, or None for a slug that is not in the hub."""
    if slug not in PAGE_ORDER:
        return None
    path = page_path(slug)
    mtime = path.stat().st_mtime
    cached = _cache.get(slug)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        page = parse(slug, path.read_text(encoding="utf-8"))
        _cache[slug] = (mtime, page)
    return page


def all_pages() -> list[Page]:
    return [get_page(slug) for slug in PAGE_ORDER]


def neighbours(slug: str) -> tuple[Page | None, Page | None]:
    position = PAGE_ORDER.index(slug)
    previous = get_page(PAGE_ORDER[position - 1]) if position > 0 else None
    following = get_page(PAGE_ORDER[position + 1]) if position + 1 < len(PAGE_ORDER) else None
    return previous, following


# Search ---------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[\w-]+")
SNIPPET_CHARS = 180
MAX_RESULTS = 20


@dataclass(frozen=True)
class Result:
    page: Page
    section: Section
    snippet: SafeString
    score: int


def _terms(query: str) -> list[str]:
    return [term for term in dict.fromkeys(word.lower() for word in _WORD.findall(query)) if len(term) > 1]


def _snippet(text: str, terms: list[str]) -> SafeString:
    """About SNIPPET_CHARS characters around the first match, escaped, with every match marked."""
    lowered = text.lower()
    positions = [pos for pos in (lowered.find(term) for term in terms) if pos >= 0]
    start = max(0, min(positions, default=0) - SNIPPET_CHARS // 3)
    if start:
        start = text.find(" ", start) + 1 or start
    excerpt = text[start : start + SNIPPET_CHARS]
    pattern = re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(excerpt):
        pieces.append((excerpt[last : match.start()], match.group()))
        last = match.end()
    prefix = "… " if start else ""
    suffix = " …" if start + SNIPPET_CHARS < len(text) else ""
    return format_html("{}{}{}{}", prefix, format_html_join("", "{}<mark>{}</mark>", pieces), excerpt[last:], suffix)


def search(query: str) -> list[Result]:
    """Sections holding every word of the query (a word also matches as the start of a longer one: "webhook"
    finds "webhooks"); a word in the section's heading weighs most, then in the page title, then in the text."""
    terms = _terms(query)
    if not terms:
        return []
    starts = [re.compile(r"\b" + re.escape(term)) for term in terms]
    results = []
    for page in all_pages():
        page_title = page.title.lower()
        for section in page.sections:
            score = 0
            for term, start in zip(terms, starts, strict=True):
                in_heading, in_title = term in section.folded_title, term in page_title
                count = 0
                if term in section.folded_text:
                    count = sum(1 for _ in itertools.islice(start.finditer(section.folded_text), 10))
                if not (in_heading or in_title or count):
                    break
                score += 100 * in_heading + 20 * in_title + count
            else:
                results.append(Result(page, section, _snippet(section.text, terms), score))
    results.sort(key=lambda result: (-result.score, PAGE_ORDER.index(result.page.slug)))
    return results[:MAX_RESULTS]
