"""Every logged-in page of a brand-new workspace says what it is for and offers one action, not a bare table."""

import pytest

from accounts.services import user_create, workspace_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# (page, the empty state's words, the action it offers)
EMPTY_STATES = [
    ("/", "Getting started", "/credits/"),
    ("/marketplace/", "No leads for sale right now", "/search/"),
    ("/marketplace/cart/", "Your cart is empty", "/marketplace/"),
    ("/marketplace/purchases/", "No purchases yet", "/marketplace/"),
    ("/search/", "The lead database has no people yet", "/marketplace/"),
    ("/segments/", "No active segments", "/search/"),
    ("/leads/", "No leads yet", "/leads/new/"),
    ("/leads/duplicates/", "No possible duplicates", "/leads/"),
    ("/enrichment/", "Fill the gaps in a list you already have", "/enrichment/new/"),
    ("/sequences/", "No sequence yet", "/sequences/mailboxes/new/"),
    ("/sequences/mailboxes/", "No mailbox yet", "/sequences/mailboxes/new/"),
    ("/sequences/suppression/", "Nobody is suppressed yet", "/sequences/suppression/add/"),
    ("/visitors/", "Install the website pixel first", "/pixels/"),
    ("/pixels/", "No pixel yet", "/pixels/"),
    ("/credits/", "No credits yet", "#packages"),
    ("/analytics/", "Run a segment to see how it performs", "/search/"),
    ("/settings/webhooks/", "No endpoint yet", "/settings/webhooks/new/"),
    ("/settings/", "No API keys yet", "/settings/api-keys/"),
]


@pytest.fixture
def newcomer(client):
    """A workspace as sign-up leaves it: an owner, nothing else (no API key, no credits, no data)."""
    user = user_create(email="new@newco.test", password=PASSWORD, full_name="New Comer")
    workspace_create(name="Newco", owner=user)
    client.force_login(user)
    return client


@pytest.mark.parametrize(("url", "words", "action"), EMPTY_STATES, ids=[url for url, _, _ in EMPTY_STATES])
def test_each_page_of_a_new_workspace_has_a_helpful_empty_state(newcomer, url, words, action):
    response = newcomer.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert words in page, f"{url} has no empty state saying {words!r}"
    main = page[page.index("<main") : page.index("</main>")]
    assert f'href="{action}"' in main or f'action="{action}"' in main, f"{url}: the page offers no way to {action}"
    assert "<tbody></tbody>" not in "".join(main.split()), f"{url} shows a bare empty table"
