"""The "new leads" toast names where leads came from in words a person uses, with the plural right."""

import json

import pytest
from django.utils import timezone

from leads.models import Lead
from leads.services import lead_create, lead_record_visitor
from leads.views import arrival_message


def group(source, count, detail=""):
    return {"source": source, "source_detail": detail, "count": count}


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([group("manual", 1)], "1 new lead added by hand."),
        ([group("manual", 2)], "2 new leads added by hand."),
        ([group("pixel", 1, "website pixel “Main site”")], "1 new lead from your website."),
        (
            [group("pixel", 2, "website pixel “Main site”"), group("pixel", 1, "website pixel “Blog”")],
            "3 new leads from your website.",
        ),
        ([group("marketplace", 1, "marketplace purchase LP-7")], "1 new lead bought in the Marketplace."),
        (
            [group("marketplace", 1, "marketplace purchase LP-7"), group("marketplace", 1, "marketplace purchase LP-8")],
            "2 new leads bought in the Marketplace.",
        ),
        ([group("database", 3, "segment “SaaS CTOs”")], "3 new leads from your segment “SaaS CTOs”."),
        ([group("database", 2, "segment “A”"), group("database", 1, "segment “B”")], "3 new leads from your segments."),
        ([group("database", 1)], "1 new lead from your segments."),
        ([group("enrichment", 4, "enrichment of “list.csv”")], "4 new leads from your enrichment of “list.csv”."),
        ([group("partner_upload", 1, "upload 3")], "1 new lead from a partner upload."),
        (
            [group("manual", 1), group("pixel", 3, "website pixel “Main site”")],
            "4 new leads: 3 from your website, 1 added by hand.",
        ),
        (
            [
                group("pixel", 4, "website pixel “Main site”"),
                group("database", 3, "segment “A”"),
                group("marketplace", 2, "marketplace purchase LP-1"),
                group("manual", 1),
            ],
            "10 new leads: 4 from your website, 3 from your segment “A”, 2 bought in the Marketplace, 1 from elsewhere.",
        ),
        ([group("manual", 1200)], "1,200 new leads added by hand."),
    ],
)
def test_the_toast_names_each_source_in_plain_words(groups, message):
    assert arrival_message(groups) == message


def test_every_source_has_words():
    for source in Lead.Source.values:
        assert arrival_message([group(source, 1)]).startswith("1 new lead ")
        assert "{detail}" not in arrival_message([group(source, 2)])


def test_the_polled_toast_says_added_by_hand_and_from_your_website(client, tenant):
    client.force_login(tenant.user)
    since = timezone.now().isoformat()
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": "hand@made.example"})
    lead_record_visitor(
        workspace=tenant.workspace, data={"email": "visitor@site.example"}, source_detail="website pixel “Main site”"
    )
    lead_record_visitor(
        workspace=tenant.workspace, data={"email": "reader@site.example"}, source_detail="website pixel “Main site”"
    )
    response = client.get("/leads/updates/", {"since": since})
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["message"] == "3 new leads: 2 from your website, 1 added by hand."
    assert "manual" not in toast["message"]
