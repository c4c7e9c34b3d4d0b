"""Reading the YAML files an operator edits (feeds, lexicon): one error type that names the file and the setting.

Kept free of the database and the NLP code so that every layer can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config file an operator must fix; the message says where and what."""


def read_yaml_file(path: Path, *, what: str, setting: str) -> Any:
    """A YAML config file's content; a ConfigError that names the file (and the setting that points at it)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what} not readable: {path} (set {setting}): {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


__all__ = ["ConfigError", "read_yaml_file"]
