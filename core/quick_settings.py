"""The few settings a listing needs, read without pydantic-settings (a sixth of a second to import).

``spendsentry series`` on a fresh series catalog needs only where the data and the state database are,
the monitors file and the log format. They are read here as ``core.settings.Settings`` reads them: the
environment first (prefix ``SPENDSENTRY_``, names in any case), then the ``.env`` file of the working
folder (parsed by python-dotenv, as pydantic-settings does), then the defaults. Whenever that reading is
not plainly the same (an empty or valueless entry, one name set in two spellings, a log format Settings
would refuse), :func:`read_quick_settings` answers None and the command builds the full ``Settings``.
``tests/core/test_quick_settings.py`` holds both readings equal.

Unlike ``Settings()``, this does not validate the settings the listing does not use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "spendsentry_"
ENV_FILE = ".env"
# Settings' defaults for these fields (core/settings.py).
DEFAULTS: dict[str, str | None] = {
    "database_url": "sqlite:///var/state.db",
    "data_dir": "var",
    "monitors_file": None,
    "log_format": "text",
}
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class QuickSettings:
    """``Settings``' fields of the same names, and its ``facts_dir``."""

    database_url: str
    data_dir: Path
    monitors_file: Path | None
    log_format: str

    @property
    def facts_dir(self) -> Path:
        return self.data_dir / "facts"


def _ours(source: Mapping[str, str | None]) -> dict[str, str | None] | None:
    """The source's entries for our fields, by field name; None when one is spelt twice (pydantic-settings
    would keep whichever comes last in the source, which this does not try to guess)."""
    out: dict[str, str | None] = {}
    for name, value in source.items():
        key = name.lower()
        if not key.startswith(PREFIX) or key[len(PREFIX) :] not in DEFAULTS:
            continue
        if key[len(PREFIX) :] in out:
            return None
        out[key[len(PREFIX) :]] = value
    return out


def read_quick_settings(
    env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> QuickSettings | None:
    """The listing's settings from the environment and ``.env``, or None when only Settings can tell."""
    from_env = _ours(os.environ if env is None else env)
    env_file = (cwd or Path()) / ENV_FILE
    from_file: dict[str, str | None] | None = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        try:
            from_file = _ours(dotenv_values(env_file, encoding="utf-8"))
        except (OSError, ValueError):  # unreadable, or not UTF-8: Settings says so in its own words
            return None
    if from_env is None or from_file is None:
        return None
    values = {**DEFAULTS, **from_file, **from_env}
    database_url, data_dir = values["database_url"], values["data_dir"]
    monitors_file, log_format = values["monitors_file"], values["log_format"]
    # An empty or valueless entry is Settings' to read (or refuse); so is a log format it would refuse.
    named_monitors = "monitors_file" in from_env or "monitors_file" in from_file
    if (
        not database_url
        or not data_dir
        or log_format not in LOG_FORMATS
        or (named_monitors and not monitors_file)
    ):
        return None
    return QuickSettings(
        database_url=database_url,
        data_dir=Path(data_dir),
        monitors_file=Path(monitors_file) if monitors_file else None,
        log_format=log_format,
    )
