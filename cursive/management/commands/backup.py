from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from cursive.backups import BackupFailed, Database, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database with pg_dump (custom format) to a file: by default into the default storage when "
        "that is a bucket (STORAGE_URL), else "
        ".data/backups/cursive-<UTC timestamp>.dump, and print where it went as the last line."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--output", help="Write the backup to this file.")
        target.add_argument("--storage", help="Save the backup under backups/ in this Django storage (e.g. default).")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The Django database to back up.")

    def handle(self, *args, output, storage, database, **options):
        try:
            where = backup_create(
                database=Database.from_settings(connections[database].settings_dict),
                output=Path(output) if output else None,
                storage=storage,
            )
        except BackupFailed as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(where)
