"""The version guard: the fast path runs only on the framework versions it was audited
against (as pip's vendor.txt pins what pip carries)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from fastpath import AUDITED


@pytest.mark.parametrize("distribution", sorted(AUDITED))
def test_installed_version_is_the_audited_one(distribution: str) -> None:
    audited, files = AUDITED[distribution]
    installed = version(distribution)
    assert installed == audited, (
        f"{distribution} {installed} is installed; the fast path was audited against "
        f"{audited}. Re-read {', '.join(files)} at {installed}, carry their changes into "
        f"fastpath/, then update fastpath.AUDITED (or run with FAST_PATH=false meanwhile)."
    )


def test_every_followed_file_exists_in_the_installed_distribution() -> None:
    from importlib.metadata import files as distribution_files

    missing = [
        f"{distribution}: {path}"
        for distribution, (_, paths) in AUDITED.items()
        for path in paths
        if path not in {str(file) for file in distribution_files(distribution) or ()}
    ]
    assert missing == []
