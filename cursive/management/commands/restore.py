from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from cursive.backups import BackupFailed, Database, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an EMPTY database (refused when it has tables), "
        "in one transaction: all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file (or its name in --storage).")
        parser.add_argument("--storage", help="Read the backup from this Django storage instead of a local path.")
        parser.add_argument(
            "--database-url",
            help="Restore into this database, e.g. postgres://user@host:5432/cursive_restored "
            "(default: the database Cursive is configured with).",
        )
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="Without --database-url, the Django database to restore into."
        )

    def handle(self, *args, file, storage, database_url, database, **options):
        try:
            target = (
                Database.from_url(database_url) if database_url else Database.from_settings(connections[database].settings_dict)
            )
            backup_restore(database=target, source=file, storage=storage)
        except BackupFailed as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Restored {file} into the {target}. Run `manage.py migrate` if the code is newer than the backup.")
