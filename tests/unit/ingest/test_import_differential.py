"""Differential test: random valid and invalid order files parse exactly as the implementation before the parse was
made faster (commit 9baa3fe: per-cell rules, grouping and the sheet reader rewritten for speed).

The reference is that commit's `services` package, taken with `git archive` into a scratch directory and run in a
subprocess over the same files; both sides digest every answer (`parse_digests`): orders field by field, row
issues with their messages, counts, the rows shown back, or the whole-file error. Skipped when the checkout has no
git history holding that commit. The seed is printed; `PARSE_DIFF_SEED=<seed>` replays a run.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.unit.ingest import parse_digests
from tests.unit.ingest.random_import_files import random_file

REFERENCE = "9baa3fe"
ROOT = Path(__file__).resolve().parents[3]
# generating and parsing here (the reference takes about as long again): up to FILES within the budget, and at
# least MIN_FILES whatever the machine's speed (a slow or loaded machine takes longer, it does not test less)
FILES, MIN_FILES, BUDGET_SECONDS = 300, 50, 8.0


def _reference_tree(into: Path) -> Path:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("no git checkout: the reference implementation cannot be taken")
    archive = into / "reference.tar"
    with archive.open("wb") as out:
        done = subprocess.run([git, "archive", REFERENCE, "services"], cwd=ROOT, stdout=out, stderr=subprocess.PIPE)
    if done.returncode != 0:
        pytest.skip(f"commit {REFERENCE} is not in this checkout: {done.stderr.decode(errors='replace').strip()}")
    tree = into / "reference"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def test_random_files_parse_as_the_reference_implementation_does(tmp_path: Path) -> None:
    seed = int(os.environ.get("PARSE_DIFF_SEED", random.randrange(10**9)))
    print(f"PARSE_DIFF_SEED={seed}")
    tree = _reference_tree(tmp_path)
    rng, deadline = random.Random(seed), time.monotonic() + BUDGET_SECONDS
    paths: list[Path] = []
    digests: list[str] = []
    while len(paths) < MIN_FILES or (len(paths) < FILES and time.monotonic() < deadline):
        data, name = random_file(rng)
        path = tmp_path / f"{len(paths):04d}-{name}"
        path.write_bytes(data)
        paths.append(path)
        digests.append(parse_digests.digest(path))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run(
        [sys.executable, "-c", "import services; print(services.__file__)"], cwd=tree, env=env, capture_output=True
    )
    assert Path(where.stdout.decode().strip()).is_relative_to(tree), where  # the reference, not this checkout
    script = Path(parse_digests.__file__)
    done = subprocess.run(
        [sys.executable, str(script), "--reference", *map(str, paths)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    reference = done.stdout.split()
    assert len(reference) == len(paths)
    differing = [path.name for path, ours, theirs in zip(paths, digests, reference, strict=True) if ours != theirs]
    assert not differing, f"seed {seed}: {len(differing)} of {len(paths)} files parse otherwise: {differing[:10]}"
