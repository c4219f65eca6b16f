"""Message bodies become safe HTML; nothing a user types runs in a page."""

from chat.rendering import extract_mentions, render_body


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
