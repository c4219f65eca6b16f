"""Bare URLs become safe links and ``:shortcode:`` emoji render, never inside code."""

import pytest

from chat.rendering import render_body
from tests.conftest import receive_until

REL = 'rel="noopener nofollow noreferrer"'


# --- Bare URLs ---------------------------------------------------------------------------


def test_a_bare_https_url_with_a_query_is_linked_whole():
    assert render_body("see https://example.com/a?b=1", "text") == (
        f'<p>see <a href="https://example.com/a?b=1" {REL}>https://example.com/a?b=1</a></p>'
    )


def test_a_www_host_is_linked_over_http():
    assert render_body("www.example.com", "text") == (
        f'<p><a href="http://www.example.com" {REL}>www.example.com</a></p>'
    )


@pytest.mark.parametrize("punctuation", [".", ",", "!", "?", ")"])
def test_trailing_punctuation_stays_outside_the_link(punctuation):
    opening = "(" if punctuation == ")" else ""
    html = render_body(f"{opening}go to https://example.com/x{punctuation}", "text")

    assert html == f'<p>{opening}go to <a href="https://example.com/x" {REL}>https://example.com/x</a>{punctuation}</p>'


def test_a_javascript_url_is_never_linked():
    assert render_body("javascript:alert(document.cookie)", "text") == "<p>javascript:alert(document.cookie)</p>"


def test_a_url_in_a_code_span_is_not_linked():
    assert render_body("`https://example.com`", "text") == "<p><code>https://example.com</code></p>"


def test_a_url_in_a_code_block_is_not_linked():
    assert render_body("```\nhttps://example.com\n```", "text") == "<pre><code>https://example.com\n</code></pre>"


def test_a_file_name_with_a_country_domain_ending_stays_text():
    assert render_body("see chat.py and notes.md", "text") == "<p>see chat.py and notes.md</p>"


def test_an_email_address_is_a_mailto_link():
    assert render_body("ann@example.com", "text") == (
        f'<p><a href="mailto:ann@example.com" {REL}>ann@example.com</a></p>'
    )


# --- Emoji shortcodes ------------------------------------------------------------------------


def test_a_known_shortcode_renders_as_its_emoji():
    assert render_body("hi :wave:", "text") == "<p>hi 👋</p>"


def test_an_unknown_shortcode_stays_text():
    assert render_body("hi :not_an_emoji: at 10:30:45", "text") == "<p>hi :not_an_emoji: at 10:30:45</p>"


def test_shortcodes_in_code_spans_and_blocks_stay_text():
    assert render_body("`:wave:`\n\n```\n:tada:\n```", "text") == (
        "<p><code>:wave:</code></p>\n<pre><code>:tada:\n</code></pre>"
    )


def test_a_code_message_keeps_its_shortcodes():
    assert render_body(":wave:", "code") == "<pre><code>:wave:</code></pre>"


def test_the_body_keeps_the_shortcode_and_the_html_shows_the_emoji(api_for, ann, group_room, settings, db):
    settings.RATE_LIMIT_MESSAGES = 0
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": ":tada: done"}, format="json")

    assert (response.json()["body"], response.json()["body_html"]) == (":tada: done", "<p>🎉 done</p>")


@pytest.mark.django_db(transaction=True)
async def test_the_socket_sends_the_rendered_emoji_and_link_to_the_room(ws_connect, ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 0
    sender, watcher = await ws_connect(ann), await ws_connect(bob)
    await sender.send_json_to(
        {"type": "send_message", "id": "s1", "data": {"room": group_room.id, "body": ":wave: www.example.com"}}
    )

    frame = await receive_until(watcher, "new_message")

    assert frame["data"]["message"]["body_html"] == (
        f'<p>👋 <a href="http://www.example.com" {REL}>www.example.com</a></p>'
    )
