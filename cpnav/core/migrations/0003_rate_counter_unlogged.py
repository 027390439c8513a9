from typing import Any

from django.db import migrations


def unlogged(apps: Any, schema_editor: Any) -> None:
    # On PostgreSQL the counters skip the write-ahead log: a crash may lose the last
    # counts (a budget briefly restarts), and in exchange a counted call does not wait
    # for a log flush. SQLite has no such tables; nothing to do there.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE core_ratecounter SET UNLOGGED")


def logged(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE core_ratecounter SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_rate_counter")]
    operations = [migrations.RunPython(unlogged, logged)]
