"""Every SQL file under sql/, rendered with the slots the code gives it: through the code's own
builders where it has them (merge_sql and its fragment table, the Redshift COPY statements, the
benchmark's old approach), otherwise with the slot names the code passes and sample values."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sparkify_loader.datasets import DATASETS
from sparkify_loader.merge import (
    BATCH_PLAYS,
    CLAIMED_LOADS,
    KNOWN_SONGS,
    PUBLISHES,
    REPLACED_FILES,
    SONG_MATCH,
    STAGED_PLAYS,
    WORK_TABLES,
    merge_sql,
)
from sparkify_loader.sqlfiles import (
    BoundList,
    BoundRows,
    Fragment,
    Identifier,
    IdentifierList,
    all_sql_files,
    render_sql,
    render_statements,
    schema_tables,
    sql_dir_files,
)
from sparkify_loader.warehouse.migrations import MIGRATIONS
from sparkify_loader.warehouse.redshift import (
    create_copy_target_sql,
    drop_copy_target_sql,
    insert_from_copy_target_sql,
    render_copy,
)
from sparkify_loader.warehouse.redshift.copy_sql import (
    DIAGNOSE_WITHOUT_LOADING,
    FAIL_ON_FIRST_BAD_ROW,
)
from sparkify_local.bench.merge import (
    KEPT_STAGING_PREFIX,
    REBUILD_PREFIX,
    SEED_PREFIX,
    old_approach_statements,
)

# Values as hostile as the code meets: quotes, braces, semicolons, comment marks, placeholders.
SAMPLE_KEYS = ["log_data/it's {keys}; --.json", "song_data/%(bucket)s.json"]
SAMPLE_URI = "s3://sparkify-landing/_loader/it's; --batch"
SAMPLE_ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
FRAGMENTS = (
    CLAIMED_LOADS,
    SONG_MATCH,
    BATCH_PLAYS,
    STAGED_PLAYS,
    REPLACED_FILES,
    KNOWN_SONGS,
    FAIL_ON_FIRST_BAD_ROW,
    DIAGNOSE_WITHOUT_LOADING,
)


def _fragment(fragment: Fragment) -> list[str]:
    return [render_sql(fragment.file, **fragment.slots)]


def real_renderings() -> dict[str, list[str]]:
    """File name -> every statement the code renders from it (one list entry per rendering)."""
    rendered: dict[str, list[str]] = defaultdict(list)
    for fragment in FRAGMENTS:
        rendered[fragment.file] += _fragment(fragment)

    # Merge: identifier slots from the published tables and the work tables (Merge._write,
    # _publish_table, _clear_work, lease).
    for publish in PUBLISHES.values():
        rendered["merge/publish/count_matched.sql"].append(
            merge_sql(
                "merge/publish/count_matched.sql",
                work_table=publish.work_table,
                target=publish.target,
                key=publish.key,
            )
        )
    for work_table in WORK_TABLES:
        for name in ("analyze", "clear", "clear_others", "count"):
            rendered[f"merge/work/{name}.sql"].append(
                merge_sql(f"merge/work/{name}.sql", work_table=work_table)
            )

    # Stage: bound keys and ledger rows (stage._versions_in_ledger, stage._record_ledger).
    rendered["stage/find_loaded_versions.sql"].append(
        render_sql(
            "stage/find_loaded_versions.sql",
            keys=BoundList("key", SAMPLE_KEYS),
            etags=BoundList("etag", ["0" * 32, "1" * 32]),
        )
    )
    # Redshift load diagnostics, both kinds (RedshiftSession._diagnostic).
    for kind in ("provisioned", "serverless"):
        for query in ("load_errors", "rows_per_file"):
            name = f"stage/redshift/{kind}/{query}.sql"
            rendered[name].append(
                render_sql(
                    name, file_names=BoundList("file", [f"s3://b/{key}" for key in SAMPLE_KEYS])
                )
            )
    ledger_row = ["b", SAMPLE_KEYS[0], "e", None, "events", 1, "staged", 1, None, "l", 0, None]
    rendered["stage/record_ledger.sql"].append(
        render_sql(
            "stage/record_ledger.sql",
            rows=BoundRows("v", [[*ledger_row, datetime(2018, 11, 1)]] * 2),
        )
    )

    # Redshift COPY, both variants, and its copy target.
    for dataset in DATASETS:
        jsonpaths = SAMPLE_URI if dataset.jsonpaths_file else None
        for noload in (False, True):
            rendered[dataset.copy_statement].append(
                render_copy(
                    dataset,
                    manifest_uri=SAMPLE_URI,
                    copy_role_arn=SAMPLE_ROLE,
                    jsonpaths_uri=jsonpaths,
                    noload=noload,
                )
            )
        rendered["stage/redshift/create_copy_target.sql"].append(create_copy_target_sql(dataset))
        rendered["stage/redshift/insert_from_copy_target.sql"].append(
            insert_from_copy_target_sql(dataset)
        )
        rendered["stage/redshift/drop_copy_target.sql"].append(drop_copy_target_sql(dataset))

    # The benchmark's old approach, both runs (bench.merge.run_merge_bench).
    for prefix, source in ((SEED_PREFIX, ""), (REBUILD_PREFIX, KEPT_STAGING_PREFIX)):
        rendered["bench/seed_insert.sql"] += old_approach_statements(prefix, source)
        for name in ("bench/seed_tables.sql", "bench/seed_drop.sql"):
            rendered[name] += render_statements(name, prefix=Identifier(prefix))

    # The benchmark's own statements on its scratch tables (bench.merge, bench.run).
    for table in ("staging_events", "bench_temp_staging_events"):
        for name in (
            "drop_table",
            "vacuum_analyze",
            "export_rows",
            "count_rows",
            "truncate_table",
            "copy_from_stdin",
        ):
            rendered[f"bench/{name}.sql"].append(
                render_sql(f"bench/{name}.sql", table=Identifier(table))
            )
    for name in ("copy_table", "append_table", "create_temp_like", "create_logged_like"):
        rendered[f"bench/{name}.sql"].append(
            render_sql(
                f"bench/{name}.sql",
                copy=Identifier(f"{KEPT_STAGING_PREFIX}staging_events"),
                table=Identifier("staging_events"),
            )
        )
    for setting in ("server_version", "shared_buffers"):
        rendered["bench/show_setting.sql"].append(
            render_sql("bench/show_setting.sql", setting=Identifier(setting))
        )

    # The CLI's own queries (LocalPipeline.ledger_rows, completeness.ledger, reset).
    rendered["cli/ledger_rows.sql"].append(
        render_sql("cli/ledger_rows.sql", keys=BoundList("key", SAMPLE_KEYS))
    )
    rendered["cli/ledger_versions.sql"].append(
        render_sql(
            "cli/ledger_versions.sql",
            keys=BoundList("key", SAMPLE_KEYS),
            etags=BoundList("etag", ["e"] * len(SAMPLE_KEYS)),
        )
    )
    rendered["local/reset_tables.sql"].append(
        render_sql("local/reset_tables.sql", tables=IdentifierList(tuple(schema_tables())))
    )

    # Every other file, merge files with the fragments merge_sql gives them, has no other slot.
    # The schema-setup files (run by an admin, statement by statement; README "Deploy").
    for name in sql_dir_files("setup"):
        rendered[f"setup/{name}"] = render_statements(f"setup/{name}")
    # The columns later versions added (warehouse.migrations), statement by statement.
    for name in sql_dir_files(MIGRATIONS):
        rendered[f"{MIGRATIONS}/{name}"] = render_statements(f"{MIGRATIONS}/{name}")

    # The smoke test's clean-up, statement by statement (operate.smoke).
    rendered["smoke/remove_run.sql"] = render_statements("smoke/remove_run.sql")

    for name in all_sql_files():
        if name not in rendered:
            rendered[name] = [merge_sql(name)] if name.startswith("merge/") else [render_sql(name)]
    return dict(rendered)
