"""The day's allowance of new pixels, one rule for the API and the Pixels page."""

from __future__ import annotations

import math
import time

from django.db import transaction

from accounts.models import Workspace
from cursive import ratelimit
from cursive.errors import RateLimited

from . import services
from .models import Pixel

NEW_PIXELS_PER_DAY = 3
DAY_SECONDS = 86_400


class PixelLimitReached(RateLimited):
    """The workspace has added its pixels for the day; carries the limit's decision for the 429's headers."""

    def __init__(self, decision: ratelimit.Decision):
        self.decision = decision
        self.retry_after = max(1, math.ceil(decision.reset - time.time()))
        super().__init__(
            f"A workspace can add {NEW_PIXELS_PER_DAY} pixels a day; try again in {self.retry_after // 3600 + 1} hours."
        )

    def headers(self) -> dict[str, str]:
        return {**self.decision.headers(), "Retry-After": str(self.retry_after)}


@transaction.atomic
def pixel_create_within_limit(*, workspace: Workspace, name: str, domain: str) -> tuple[Pixel, ratelimit.Decision]:
    """A new pixel and the day's limit after it. Invalid input raises before anything is counted; over the
    limit, PixelLimitReached rolls the pixel back. The counter's row stays locked until commit, so two
    concurrent requests cannot both take the last place of the day."""
    pixel = services.pixel_create(workspace=workspace, name=name, domain=domain)
    decision = ratelimit.hit(f"ws:{workspace.pk}:pixel_create", limit=NEW_PIXELS_PER_DAY, window=DAY_SECONDS)
    if not decision.allowed:
        raise PixelLimitReached(decision)
    return pixel, decision
