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
from markdown_it.rules_core import StateCore

from .emoji import replace_shortcodes

MENTION_RE = re.compile(r"(?<![\w@/])@([\w.+-]{1,150})")
# A one-line body of words and plain punctuation, starting with a letter: markdown, links, mentions,
# shortcodes and escaping all leave it as it is, so it renders as one paragraph without the parser.
# No `_*~`[]<>&#|:@/\` or newline (markup, links, mentions, emoji), no leading digit or `-+=` (lists,
# rules), no edge spaces (trimmed); "www." is a link. tests/chat/test_rendering.py holds it to the parser.
PLAIN_TEXT_RE = re.compile(r"(?=[^\W\d_])(?:[^\W_]|[ ,.;?!()'=-])*(?<! )")
# A linkified text that names its scheme or starts with www. (or is an e-mail address).
EXPLICIT_LINK_RE = re.compile(r"(?i)^(?:https?://|mailto:|www\.)|@")


def _bare_hosts_stay_text(state: StateCore) -> None:
    """Undo linkify's fuzzy links of bare host names: ``chat.py`` or ``notes.md`` (2-letter
    country domains) are file names in a chat far more often than web sites."""
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        kept = []
        index = 0
        while index < len(children):
            child = children[index]
            if (
                child.type == "link_open"
                and child.markup == "linkify"
                and index + 2 < len(children)
                and children[index + 2].type == "link_close"
                and not EXPLICIT_LINK_RE.search(children[index + 1].content)
            ):
                kept.append(children[index + 1])
                index += 3
                continue
            kept.append(child)
            index += 1
        token.children = kept


def _emoji_shortcodes(state: StateCore) -> None:
    """``:wave:`` becomes 👋 in text, never in code spans or blocks (their tokens are not ``text``)."""
    for token in state.tokens:
        if token.type == "inline" and token.children:
            for child in token.children:
                if child.type == "text":
                    child.content = replace_shortcodes(child.content)


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True}).enable(
    ["linkify", "strikethrough", "table"]
)
_markdown.core.ruler.push("bare_hosts_stay_text", _bare_hosts_stay_text)
_markdown.core.ruler.push("emoji_shortcodes", _emoji_shortcodes)
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


def is_plain_text(body: str) -> bool:
    """Whether ``body`` renders as itself in one paragraph (see ``PLAIN_TEXT_RE``)."""
    return PLAIN_TEXT_RE.fullmatch(body) is not None and "www." not in body.lower()


def render_body(body: str, kind: str, usernames: dict[str, int] | None = None) -> str:
    """The sanitised HTML of a message body."""
    if kind != "code" and is_plain_text(body):
        return f"<p>{body}</p>"  # what the parser and sanitiser make of it (most chat lines), at 1/50 the cost
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
