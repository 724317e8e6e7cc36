"""A job the two-node test queues (a job's func must be importable by dotted path): it records which node ran it."""

import os

from cursive.models import WorkerHeartbeat


def record_node(*, label: str) -> None:
    # name is unique per node: a job run twice on one node fails its second run, on two nodes leaves two rows.
    WorkerHeartbeat.objects.create(name=f"{label}@{os.environ['CURSIVE_TEST_NODE']}")
