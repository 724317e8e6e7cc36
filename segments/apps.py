from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.schedules import Recurring, register

        from .models import SegmentRun

        register_reference(
            "segment_run", lambda ids: set(SegmentRun.objects.filter(pk__in=ids, pulled__gt=0).values_list("pk", flat=True))
        )
        register(Recurring("refresh segment counts", "segments.services.segments_refresh_counts", Schedule.DAILY))
        register(Recurring("automatic segment pulls", "segments.services.segments_auto_pull", Schedule.DAILY))
