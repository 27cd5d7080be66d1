"""``read_quick_settings`` reads the listing's settings exactly as ``Settings`` does, or declines (None)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.quick_settings import read_quick_settings
from core.settings import Settings

FIELDS = ("database_url", "data_dir", "monitors_file", "log_format")


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.lower().startswith("spendsentry_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("env", "dotenv"),
    [
        ({}, None),
        ({"SPENDSENTRY_DATA_DIR": "/srv/data", "SPENDSENTRY_DATABASE_URL": "sqlite:////srv/s.db"}, None),
        ({"spendsentry_data_dir": "lower/case", "SpendSentry_Log_Format": "json"}, None),
        ({}, 'SPENDSENTRY_DATA_DIR="quoted dir"\nexport SPENDSENTRY_DATABASE_URL=sqlite:///e.db\n'),
        (
            {"SPENDSENTRY_DATA_DIR": "from-env"},
            "SPENDSENTRY_DATA_DIR=from-file\nSPENDSENTRY_LOG_FORMAT=json\n",
        ),
        ({}, "# comment\nspendsentry_monitors_file = 'mon itors.yaml'  # trailing\nOTHER=1\n"),
        ({"SPENDSENTRY_MONITORS_FILE": "m.yaml", "SPENDSENTRY_PAGE_BURN_FACTOR": "4"}, None),
    ],
)
def test_reads_what_settings_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], dotenv: str | None
) -> None:
    _clean_env(monkeypatch, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    quick = read_quick_settings()
    full = Settings()
    assert quick is not None
    assert {f: getattr(quick, f) for f in FIELDS} == {f: getattr(full, f) for f in FIELDS}
    assert quick.facts_dir == full.facts_dir


@pytest.mark.parametrize(
    ("env", "dotenv"),
    [
        ({"SPENDSENTRY_DATA_DIR": ""}, None),  # empty: Settings' own reading
        ({"SPENDSENTRY_MONITORS_FILE": ""}, None),
        ({"SPENDSENTRY_LOG_FORMAT": "xml"}, None),  # Settings refuses it, and says why
        ({"SPENDSENTRY_DATA_DIR": "a", "spendsentry_data_dir": "b"}, None),  # which one wins is its call
        ({}, "SPENDSENTRY_DATABASE_URL\n"),  # a name without a value
    ],
)
def test_declines_what_only_settings_can_tell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], dotenv: str | None
) -> None:
    _clean_env(monkeypatch, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    assert read_quick_settings() is None


def test_an_unreadable_env_file_is_left_to_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_env(monkeypatch, tmp_path)
    (tmp_path / ".env").write_bytes(b"SPENDSENTRY_DATA_DIR=\xff\xfe\n")
    assert read_quick_settings() is None
