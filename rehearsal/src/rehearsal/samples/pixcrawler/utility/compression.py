"""Compression settings from `PIXCRAWLER_UTILITY_COMPRESSION__*` environment variables.

The older ways still work: the whole group as JSON (`PIXCRAWLER_UTILITY_COMPRESSION=
'{"quality": 70}'`) and the unprefixed names of the earlier release (`QUALITY`, `FORMAT`, ...);
the nested variables win over both.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

PREFIX = "PIXCRAWLER_UTILITY_COMPRESSION__"
GROUP = "PIXCRAWLER_UTILITY_COMPRESSION"
FIELDS = ("QUALITY", "FORMAT", "LOSSLESS", "WORKERS")
FORMATS = ("webp", "avif", "png", "jxl")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A compression setting has a value outside its allowed range."""


@dataclass(frozen=True)
class CompressionSettings:
    """Image compression settings with the PixCrawler defaults."""

    quality: int = 85
    format: str = "webp"
    lossless: bool = False
    workers: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quality <= 100:
            raise SettingsError(f"quality must be 0-100, got {self.quality}")
        if self.format not in FORMATS:
            raise SettingsError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.workers < 0:
            raise SettingsError(f"workers must be >= 0, got {self.workers}")


def parse_bool(value: str) -> bool:
    """Read a boolean the way pydantic-settings does."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def parse_int(name: str, value: str) -> int:
    """Read an integer setting, naming the setting when it is not one."""
    try:
        return int(value.strip())
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {value!r}") from None


def group_values(text: str) -> dict[str, str]:
    """The whole group given as a JSON object, as setting name -> text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise SettingsError(f"{GROUP} is not JSON: {text!r}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{GROUP} must be a JSON object")
    return {
        str(k).upper(): str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()
    }


def from_env(environ: Mapping[str, str]) -> CompressionSettings:
    """Settings from an environment mapping; names are case-insensitive, unset keeps defaults.
    Unprefixed names, then the JSON group, then the nested variables (the last wins)."""
    upper = {key.upper(): value for key, value in environ.items()}
    values = {name: upper[name] for name in FIELDS if name in upper}
    if GROUP in upper:
        values.update(group_values(upper[GROUP]))
    for key, value in upper.items():
        if key.startswith(PREFIX):
            values[key[len(PREFIX) :]] = value
    settings = CompressionSettings()
    if "QUALITY" in values:
        settings = replace(settings, quality=parse_int("quality", values["QUALITY"]))
    if "FORMAT" in values:
        settings = replace(settings, format=values["FORMAT"])
    if "LOSSLESS" in values:
        settings = replace(settings, lossless=parse_bool(values["LOSSLESS"]))
    if "WORKERS" in values:
        settings = replace(settings, workers=parse_int("workers", values["WORKERS"]))
    return settings


def get_compression_settings() -> CompressionSettings:
    """The earlier release's entry point, kept: the settings of this process's environment."""
    return from_env(os.environ)
