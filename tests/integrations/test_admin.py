"""Staff see integrations in admin, without secrets, and revoke them with the owners' own action."""

import pytest

from integrations.models import BotToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", ["bottoken", "incomingwebhook", "outgoingwebhook", "delivery"])
def test_each_list_is_shown(staff_client, model, bot_token):
    assert staff_client.get(f"/admin/integrations/{model}/").status_code == 200


def test_a_token_page_shows_neither_the_token_nor_its_hash(staff_client, bot_token):
    token = BotToken.objects.get()
    page = staff_client.get(f"/admin/integrations/bottoken/{token.pk}/change/").content.decode()
    assert bot_token not in page and token.token_hash not in page


def test_staff_revoke_a_token(staff_client, bot_token):
    token = BotToken.objects.get()
    response = staff_client.post(
        "/admin/integrations/bottoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    assert BotToken.objects.get().revoked_at is not None
