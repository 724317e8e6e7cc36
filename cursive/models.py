from django.db import models
from django.utils import timezone


class RateLimitCounter(models.Model):
    """Requests counted per key and fixed window, shared by every web worker."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Epoch seconds at which the window opened.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_key_window_unique"),
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_prune_idx")]

    def __str__(self):
        return f"{self.key} @ {self.window_start}: {self.count}"


class WorkerHeartbeat(models.Model):
    """Written by a scheduled job; /health reads it to tell whether the worker runs."""

    name = models.CharField(max_length=50, unique=True)
    beat_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
