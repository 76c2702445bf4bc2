"""The schema-setup step (sql/setup/): the database roles the functions act through, and what
they may do. Serverless IAM auth signs each function in as its own IAMR:<role> user, in PUBLIC
only; the template's RedshiftDbRoles tag maps the stage and merge functions to the loader role and
the Reconcile function to the read-only reconcile role."""

from __future__ import annotations

import re
from pathlib import Path

from cfnlint.decode import decode

from sparkify_loader.sqlfiles import render_statements, schema_tables, sql_dir_files

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def setup_statements() -> list[str]:
    return [
        " ".join(statement.split())
        for name in sql_dir_files("setup")
        for statement in render_statements(f"setup/{name}")
    ]


def test_setup_creates_the_role_then_grants_it_every_table_and_analyze() -> None:
    # Given the setup files, in order
    # When their statements are read
    statements = setup_statements()

    # Then the role comes first, then read and write on every schema table, then ANALYZE
    assert statements[0] == "CREATE ROLE sparkify_loader_role"
    table_grant = next(s for s in statements if s.startswith("GRANT SELECT"))
    match = re.fullmatch(
        r"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE (.+) TO ROLE sparkify_loader_role",
        table_grant,
    )
    assert match is not None
    assert sorted(match.group(1).split(", ")) == sorted(schema_tables())
    assert "GRANT ANALYZE TO ROLE sparkify_loader_role" in statements


def test_the_function_roles_carry_the_database_role_they_are_mapped_to() -> None:
    # Given the template
    template, _ = decode(str(TEMPLATE))
    assert template is not None

    # When the functions' shared tags are read
    function_globals = template["Globals"]["Function"]

    # Then they name the setup's role and reach the generated IAM roles
    assert function_globals["Tags"]["RedshiftDbRoles"] == "sparkify_loader_role"
    assert function_globals["PropagateTags"] is True


def test_the_role_is_not_named_like_the_default_database_user() -> None:
    # Given the template's default database user for IAM auth on a provisioned cluster
    template, _ = decode(str(TEMPLATE))
    assert template is not None
    default_user = template["Parameters"]["RedshiftDbUser"]["Default"]

    # When the setup's roles are read
    roles = [s.removeprefix("CREATE ROLE ") for s in setup_statements() if "CREATE ROLE" in s]

    # Then they differ: Redshift refuses a role named like a user (CREATE ROLE: "can't be the
    # same as any user names"), and the README creates that user and grants it the role
    assert roles == ["sparkify_loader_role", "sparkify_reconcile_role"]
    assert default_user not in roles


def test_the_reconcile_role_may_only_read_the_ledger() -> None:
    # Given the setup's statements
    statements = setup_statements()

    # When reading what the reconcile role is granted
    granted = [s for s in statements if s.endswith("TO ROLE sparkify_reconcile_role")]

    # Then it is created, and may read load_ledger and nothing else
    assert "CREATE ROLE sparkify_reconcile_role" in statements
    assert granted == ["GRANT SELECT ON TABLE load_ledger TO ROLE sparkify_reconcile_role"]


def test_the_reconcile_function_carries_the_read_only_role() -> None:
    # Given the template
    template, _ = decode(str(TEMPLATE))
    assert template is not None

    # When reading the Reconcile function's own tags (SAM merges them over Globals' tags)
    tags = template["Resources"]["ReconcileFunction"]["Properties"]["Tags"]

    # Then its database user is mapped to the reconcile role, not the loader role
    assert tags == {"RedshiftDbRoles": "sparkify_reconcile_role"}
