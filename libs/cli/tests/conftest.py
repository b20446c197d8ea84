from __future__ import annotations

from pathlib import Path

import pytest


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "services").is_dir():
            return parent
    raise RuntimeError("repository root not found")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared real-mail corpus, read in place (../shared/corpus next to the repository)."""
    path = _repo_root().parent / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"real-mail corpus not found at {path} (expected ../shared/corpus beside the repo)")
    return path
