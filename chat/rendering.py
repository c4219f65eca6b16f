"""Markdown to safe HTML.

markdown-it renders (raw HTML in the source is escaped, not passed through),
then nh3 sanitises against an allow-list, so nothing a user types reaches a
page as live markup. Mentions become links only for users that exist.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

MENTION_RE = re.compile(r"(?<![\w@/])@([\w.+-]{1,150})")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["strikethrough", "table"]
)
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class", "data-user-id"},
    "th": {"align"},
    "td": {"align"},
}


def extract_mentions(body: str) -> set[str]:
    """Usernames written as ``@name`` outside code; ``room``/``here`` included."""
    without_code = re.sub(r"```.*?```|`[^`]*`", " ", body, flags=re.S)
    return {name.rstrip(".") for name in MENTION_RE.findall(without_code)}


def _link_mentions(rendered: str, usernames: dict[str, int]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1).rstrip(".")
        tail = match.group(1)[len(name) :]
        if name in ("room", "here"):
            return f'<span class="mention mention-all">@{name}</span>{tail}'
        user_id = usernames.get(name)
        if user_id is None:
            return match.group(0)
        return f'<span class="mention" data-user-id="{user_id}">@{html.escape(name)}</span>{tail}'

    # Only touch text outside tags and outside <code>/<pre>.
    parts = re.split(r"(<pre>.*?</pre>|<code[^>]*>.*?</code>|<[^>]+>)", rendered, flags=re.S)
    return "".join(part if part.startswith("<") else MENTION_RE.sub(replace, part) for part in parts)


def render_body(body: str, kind: str, usernames: dict[str, int] | None = None) -> str:
    """The sanitised HTML of a message body."""
    if kind == "code":
        rendered = f"<pre><code>{html.escape(body)}</code></pre>"
    else:
        rendered = _markdown.render(body)
        rendered = _link_mentions(rendered, usernames or {})
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow noreferrer",
    ).strip()
