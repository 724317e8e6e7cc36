import pytest

from accounts.models import Workspace
from cursive.jobs import job_run
from cursive.models import Job
from tests.marketplace.conftest import fund
from tests.sequences.conftest import mailbox, mailbox_data, smtp  # noqa: F401  (fixtures)

EMAIL = "alex.morgan@erase.example"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def partner(tenant_factory):
    return tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)


@pytest.fixture
def buyer(tenant):
    fund(tenant.workspace, 100)
    return tenant


@pytest.fixture
def other_buyer(other_tenant):
    fund(other_tenant.workspace, 100)
    return other_tenant


def run_jobs(func: str) -> int:
    """Run the queued jobs of one kind as the worker would (cursive.jobs.job_run); returns how many ran."""
    jobs = list(Job.objects.filter(func=func, status=Job.Status.PENDING).order_by("pk"))
    for job in jobs:
        assert job_run(job.pk) == "succeeded", Job.objects.get(pk=job.pk).last_error
    return len(jobs)
