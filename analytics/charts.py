"""The text alternative of each Analytics chart: a one-sentence summary (the canvas's accessible name) and the
numbers drawn, as a table a person can open under the chart. Built from the same summary the charts draw."""

from __future__ import annotations

from datetime import date
from decimal import Decimal


def _credits(value) -> str:
    return f"{Decimal(value):,.2f}"


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


def _count(value: int, noun: str) -> str:
    return f"{value:,} {noun}{'s' if value != 1 else ''}"


def _peak(rows: list[dict], key: str) -> dict | None:
    best = max(rows, key=lambda row: row[key], default=None)
    return best if best and best[key] else None


def _usage(summary: dict) -> dict:
    rows = summary["credit_usage"]
    spent = sum((row["spent"] for row in rows), Decimal(0))
    added = sum((row["added"] for row in rows), Decimal(0))
    text = f"Credits by day over {summary['period_days']} days: {_credits(spent)} spent and {_credits(added)} added."
    if peak := _peak(rows, "spent"):
        text += f" The most spent in a day: {_credits(peak['spent'])} on {_day(peak['day'])}."
    return {
        "summary": text,
        "columns": ["Day", "Spent", "Added"],
        "rows": [[_day(row["day"]), _credits(row["spent"]), _credits(row["added"])] for row in rows],
    }


def _sources(summary: dict) -> dict:
    rows = summary["lead_sources"]
    total = sum(row["leads"] for row in rows)
    shares = [f"{row['label']} {row['leads']:,} ({round(100 * row['leads'] / total)}%)" for row in rows if total]
    return {
        "summary": f"{_count(total, 'lead')} by source: {', '.join(shares)}." if shares else "No leads by source.",
        "columns": ["Source", "Leads"],
        "rows": [[row["label"], f"{row['leads']:,}"] for row in rows],
    }


def _acquisition(summary: dict) -> dict:
    rows = summary["daily_acquisition"]
    total = sum(row["leads"] for row in rows)
    text = f"New leads by day over {summary['period_days']} days: {total:,} in all."
    if peak := _peak(rows, "leads"):
        text += f" The most in a day: {peak['leads']:,} on {_day(peak['day'])}."
    return {"summary": text, "columns": ["Day", "New leads"], "rows": [[_day(row["day"]), f"{row['leads']:,}"] for row in rows]}


def _quality(summary: dict) -> dict:
    rows = summary["quality"]
    return {
        "summary": "Leads by score: " + ", ".join(f"{row['bucket']}: {row['leads']:,}" for row in rows) + ".",
        "columns": ["Score", "Leads"],
        "rows": [[row["bucket"], f"{row['leads']:,}"] for row in rows],
    }


def _partner(summary: dict) -> dict:
    rows = summary["partner"]["by_day"]
    sales = sum(row["sales"] for row in rows)
    earned = sum((row["earned"] for row in rows), Decimal(0))
    return {
        "summary": f"Leads sold and credits earned by day over {summary['period_days']} days: "
        f"{_count(sales, 'lead')} sold, {_credits(earned)} credits earned.",
        "columns": ["Day", "Leads sold", "Credits earned"],
        "rows": [[_day(row["day"]), f"{row['sales']:,}", _credits(row["earned"])] for row in rows],
    }


def chart_alternatives(summary: dict) -> dict[str, dict]:
    """{chart name: {"summary", "columns", "rows"}} for each chart the Analytics page can draw."""
    charts = {
        "usage": _usage(summary),
        "sources": _sources(summary),
        "acquisition": _acquisition(summary),
        "quality": _quality(summary),
    }
    if summary.get("partner"):
        charts["partner"] = _partner(summary)
    return charts
