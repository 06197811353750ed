from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from ...store import get_store


class Command(BaseCommand):
    help = "Delete expired flows. Run it from cron, as often as you like."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = get_store().purge_expired(timezone.now())
        self.stdout.write(f"Deleted {deleted} expired flow(s).")
