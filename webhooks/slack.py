"""Slack incoming webhooks: the same events as readable messages."""

from __future__ import annotations

import json

from django.conf import settings

from cursive.models import OutboxEvent


def subject(event: OutboxEvent) -> str | None:
    """What a message is about, for the endpoint's cool-down: the visitor, the lead, or the workspace."""
    data = event.data
    for key in ("visitor_id", "lead_id"):
        if data.get(key) is not None:
            return f"{event.type}:{key}:{data[key]}"
    if event.type == "credits.low":
        return "credits.low"
    return None


def _name(data: dict) -> str:
    person = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
    return person or data.get("email") or "Someone"


def text(event: OutboxEvent) -> str:
    data, site = event.data, settings.SITE_URL.rstrip("/")
    who = _name(data) + (f" at {data['company_name']}" if data.get("company_name") else "")
    score = f" (score {data['score']})" if data.get("score") is not None else ""
    match event.type:
        case "visitor.identified":
            pages = data.get("pageviews")
            seen = f", {pages} page{'s' if pages != 1 else ''} viewed" if pages else ""
            link = f"<{site}/visitors/{data.get('visitor_id')}/|See the visit>"
            return f":eyes: {who} is on your site{score}{seen}. {link}"
        case "lead.created":
            return f":sparkles: New lead: {who}{score}. <{site}/leads/{data.get('lead_id')}/|Open the lead>"
        case "lead.scored":
            return f":chart_with_upwards_trend: {who} is now {data.get('band', 'scored')}{score}."
        case "credits.low":
            balance, threshold = data.get("balance"), data.get("threshold")
            return f":warning: Credits are low: {balance} left (alert below {threshold}). <{site}/credits/|Buy credits>"
        case "purchase.completed":
            return f":white_check_mark: Purchase completed: {data.get('description') or data.get('purchase_id')}."
        case "lead.erased":
            refunded = data.get("refunded_credits")
            back = f" {refunded} credits were refunded." if refunded and refunded != "0.00" else ""
            return f":wastebasket: Lead #{data.get('lead_id')} was removed at the person's request.{back}"
        case "webhook.test":
            return ":wave: Cursive is connected to this channel."
        case _:
            return f"{event.type}: {json.dumps(data)[:500]}"


def message(event: OutboxEvent) -> bytes:
    return json.dumps({"text": text(event)}).encode()
