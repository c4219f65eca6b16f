"""Message bodies become safe HTML; nothing a user types runs in a page."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import rendering
from chat.rendering import extract_mentions, is_plain_text, render_body


def test_markdown_is_rendered():
    assert render_body("**bold** and _it_", "text") == "<p><strong>bold</strong> and <em>it</em></p>"


def test_raw_html_is_escaped_not_executed():
    html = render_body("<script>alert(1)</script><img src=x onerror=alert(1)>", "text")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_javascript_links_are_not_links():
    html = render_body("[click](javascript:alert(1))", "text")
    assert "<a" not in html


def test_links_get_a_safe_rel():
    html = render_body("[site](https://example.com)", "text")
    assert html == '<p><a href="https://example.com" rel="noopener nofollow noreferrer">site</a></p>'


def test_code_blocks_stay_code():
    html = render_body("```\nif a < b:\n    pass\n```", "text")
    assert html == "<pre><code>if a &lt; b:\n    pass\n</code></pre>"


def test_code_messages_are_escaped_whole():
    assert render_body("<b>x</b>", "code") == "<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>"


def test_mentions_of_known_users_are_marked():
    html = render_body("hi @bob and @nobody", "text", {"bob": 7})
    assert html == '<p>hi <span class="mention" data-user-id="7">@bob</span> and @nobody</p>'


def test_mentions_inside_code_are_not_mentions():
    assert extract_mentions("`@bob` and ```\n@cat\n``` but @ann.") == {"ann"}


def test_room_mentions_are_found():
    assert extract_mentions("@room look") == {"room"}


# Characters the shortcut takes, and characters next to them that mean markup.
SHORTCUT_ALPHABET = "aZé日1 ,.;?!()'=-w"
HAZARD_ALPHABET = SHORTCUT_ALPHABET + "_*~`[]<>&#|:@/\\\n\t+\"²"


@pytest.mark.parametrize(
    "body",
    [
        "hello world",
        "t=123 hello, how are you?",
        "Ünïcödé and 日本語 too",
        "it's (mostly) fine - really",
        "a    b",
        "e.g. chat.py or notes.md",
        "x = y; done!",
        "WWW.example.com",
        "www.example.com",
        "hello ",
        " hello",
        "1. item",
        "- item",
        "= sign",
        "_em_",
        "a_b_c",
        "ends with a dash -",
        "he said \"hi\"",
    ],
)
def test_a_plain_line_renders_as_the_parser_renders_it(body):
    assert render_body(body, "text") == _parsed(body)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=HAZARD_ALPHABET, min_size=1, max_size=40) | st.text(alphabet=SHORTCUT_ALPHABET, max_size=40))
def test_whatever_the_plain_text_shortcut_takes_renders_as_the_parser_renders_it(body):
    assert render_body(body, "text") == _parsed(body)


def test_the_plain_text_shortcut_takes_ordinary_chat_lines():
    assert is_plain_text("See you at 10, ok?") and is_plain_text("t=123 hello")
    assert not is_plain_text("**bold**") and not is_plain_text("1. item") and not is_plain_text("www.x.org")


def _parsed(body: str) -> str:
    """The full parser and sanitiser's rendering, the shortcut switched off."""
    original = rendering.PLAIN_TEXT_RE
    rendering.PLAIN_TEXT_RE = re.compile(r"(?!)")
    try:
        return render_body(body, "text")
    finally:
        rendering.PLAIN_TEXT_RE = original
