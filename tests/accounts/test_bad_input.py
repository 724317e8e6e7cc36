"""Hole 10 on the account pages: bad input is a 4xx, never a 500."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("workspace_id", ["abc", "1.5", "²", "99999999999999999999999", ""])
def test_switching_to_a_workspace_id_that_is_no_id_is_not_found(client, tenant, workspace_id):
    browser = tenant.browser_client(client)
    assert browser.post("/workspaces/switch/", {"workspace_id": workspace_id}).status_code == 404


def test_switching_to_ones_own_workspace_still_works(client, tenant):
    browser = tenant.browser_client(client)
    response = browser.post("/workspaces/switch/", {"workspace_id": str(tenant.workspace.pk)})
    assert response.status_code == 302
