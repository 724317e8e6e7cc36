"""How long the send-window arithmetic takes: the first due times of a 100,000-lead enrolment, and one lead at
a time as the sender asks for every later step. Pure Python, no database.

    .venv/bin/python bench/schedule.py [--leads 100000] [--seed N]

Leads are spread like a real list: mostly American (states weighted by population, written as codes or names),
some Canadian, Australian, European and Brazilian, some with no state or country; the sequence skips public
holidays, so every holiday calendar the leads need is built once in the cold run. One JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time

import scratch  # noqa: F401  (puts the repository on sys.path and selects the settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    options = parser.parse_args()

    import django

    django.setup()
    from accounts.models import Workspace
    from leads.models import Lead
    from sequences import schedule
    from sequences.models import Sequence

    rng = random.Random(options.seed)
    places = (
        [(code, "US") for code, _name, _zone in schedule.US_STATES] * 3
        + [(name, "US") for _code, name, _zone in schedule.US_STATES]
        + [("", "US")] * 20
        + [(code, "CA") for code, _name, _zone in schedule.CA_PROVINCES]
        + [(code, "AU") for code, _name, _zone in schedule.AU_STATES]
        + [("", country) for country in ("DE", "GB", "FR", "BR", "IN", "JP", "MX", "NL", "ES", "IT")]
        + [("", "")] * 10
    )
    leads = [Lead(state=state, country=country) for state, country in rng.choices(places, k=options.leads)]
    sequence = Sequence(workspace=Workspace(name="Bench", time_zone="America/New_York"), name="Bench", skip_holidays=True)
    after = dt.datetime(2026, 12, 24, 21, 0, tzinfo=dt.UTC)

    started = time.perf_counter()
    schedule.leads_send_times(sequence=sequence, leads=leads, after=after)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    schedule.leads_send_times(sequence=sequence, leads=leads, after=after + dt.timedelta(hours=1))
    warm = time.perf_counter() - started

    sample = leads[:20_000]
    started = time.perf_counter()
    for index, lead in enumerate(sample):
        schedule.lead_send_time(sequence=sequence, lead=lead, after=after + dt.timedelta(minutes=index))
    one_by_one = time.perf_counter() - started

    print(
        json.dumps(
            {
                "leads": options.leads,
                "distinct_places": len({(lead.state, lead.country) for lead in leads}),
                "enrolment_due_times_seconds_cold": round(cold, 3),
                "enrolment_due_times_seconds_warm": round(warm, 3),
                "one_lead_at_a_time_per_second": round(len(sample) / one_by_one),
            }
        )
    )


if __name__ == "__main__":
    main()
