import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User, Workspace
from accounts.services import api_key_create, user_create, workspace_create
from credits.services import credits_adjust, to_credits
from cursive.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create a workspace and its owner (the user is created when the email is new). "
        "Prints the workspace's new API key alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument(
            "--role",
            choices=Workspace.Kind.values,
            default=Workspace.Kind.BUYER,
            help="The workspace kind: buyer (default) or partner.",
        )
        parser.add_argument("--credits", default=None, help="Grant this many credits (a ledger entry of kind adjustment).")
        parser.add_argument(
            "--password", default=None, help="Password for a new owner; a random one is generated and printed otherwise."
        )

    # Lives in `credits` because it provisions both a workspace and its opening balance.
    def handle(self, *args, name, owner_email, role, password, credits, **options):
        try:
            credits = to_credits(credits) if credits is not None else None
            with transaction.atomic():
                owner = User.objects.filter(email__iexact=owner_email.strip()).first()
                generated = None
                if owner is None:
                    generated = password or secrets.token_urlsafe(12)
                    owner = user_create(email=owner_email, password=generated)
                workspace = workspace_create(name=name, owner=owner, kind=role)
                if credits:
                    credits_adjust(
                        workspace=workspace, amount=credits, actor=None, reason="Opening balance granted by create_workspace"
                    )
                _, raw_key = api_key_create(workspace=workspace, name="CLI", created_by=owner)
        except ApplicationError as exc:
            raise CommandError(
                f"{exc.message} (--credits takes a number of credits, e.g. 500 or 12.50)"
                if "amount" in exc.fields
                else exc.message
            ) from exc
        self.stdout.write(
            f"Workspace {workspace.name} (id {workspace.pk}, {workspace.kind}) owned by {owner.email}"
            + (f", {credits} credits" if credits else "")
        )
        if generated and not password:
            self.stdout.write(f"Owner password: {generated}")
        self.stdout.write(raw_key)
