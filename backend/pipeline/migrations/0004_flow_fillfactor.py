"""Leave room on each page of the flow table for a flow's next version.

Every step rewrites its flow's row. PostgreSQL writes the new version
without touching any index (a HOT update) only when it fits on the old
one's page; at the default fillfactor of 100 a page is packed full by the
flows started one after another, so their steps went to other pages and
wrote an entry into each of the table's six indexes. At 70, the room left
on a page takes the next versions of its flows, and PostgreSQL reclaims
the dead ones as it goes. Pages written before this keep their packing.
Other databases have no such setting.
"""

from typing import Any

from django.db import migrations

FILLFACTOR = 70


def leave_room(apps: Any, schema_editor: Any) -> None:
    _alter(apps, schema_editor, f"SET (fillfactor = {FILLFACTOR})")


def pack_full(apps: Any, schema_editor: Any) -> None:
    _alter(apps, schema_editor, "RESET (fillfactor)")


def _alter(apps: Any, schema_editor: Any, change: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table = apps.get_model("pipeline", "Flow")._meta.db_table
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {change}")


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0003_flow_indexes")]

    operations = [migrations.RunPython(leave_room, pack_full)]
