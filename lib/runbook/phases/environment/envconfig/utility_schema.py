"""The utility package's settings, as the runbook's own typed model (PixCrawler is not imported).

Mirrors the reference table "Utility settings" (prefix `PIXCRAWLER_UTILITY_`, nested delimiter
`__`). Every model forbids extra keys so a misspelt key is reported instead of ignored.
Choices that the utility package lower-/upper-cases before validating are case-insensitive
here too; `FORMAT` and `ARCHIVE__TYPE` are plain literals and so case-sensitive.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


LogLevel = Annotated[
    Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE"], BeforeValidator(_upper)
]


class ArchiveSchema(BaseModel):
    """`COMPRESSION__ARCHIVE__*`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enable: bool = True
    tar: bool = True
    type: Literal["zstd", "zip", "none"] = "zstd"
    level: int = Field(default=10, ge=1, le=19)
    output: Path = Path("./dataset.zst")


class CompressionSchema(BaseModel):
    """`COMPRESSION__*`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    input_dir: Path = Path("./images")
    output_dir: Path = Path("./compressed")
    format: Literal["webp", "avif", "png", "jxl"] = "webp"
    quality: int = Field(default=85, ge=0, le=100)
    lossless: bool = False
    workers: int = Field(default=0, ge=0)
    archive: ArchiveSchema = Field(default_factory=lambda: ArchiveSchema())


class LoggingSchema(BaseModel):
    """`LOGGING__*`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    environment: Annotated[
        Literal["development", "production", "testing"], BeforeValidator(_lower)
    ] = "development"
    log_dir: Path = Path("logs")
    log_filename: str = Field(default="pixcrawler.log", min_length=1)
    error_filename: str = Field(default="errors.log", min_length=1)
    max_file_size: str = "10 MB"
    backup_count: int = Field(default=5, ge=1, le=100)
    console_level: LogLevel = "DEBUG"
    file_level: LogLevel = "DEBUG"
    use_json: bool = False
    use_colors: bool = True


class UtilitySchema(BaseModel):
    """The whole `PIXCRAWLER_UTILITY_*` tree."""

    model_config = ConfigDict(extra="forbid")

    compression: CompressionSchema = Field(default_factory=lambda: CompressionSchema())
    logging: LoggingSchema = Field(default_factory=lambda: LoggingSchema())


FieldPath = tuple[str, ...]


def group_model(annotation: Any) -> type[BaseModel] | None:
    """The nested model class behind a field annotation, or None for a leaf."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def field_at(path: FieldPath, root: type[BaseModel] = UtilitySchema) -> FieldInfo | None:
    """The FieldInfo at a lower-case field path, or None when the path is not in the schema."""
    model: type[BaseModel] | None = root
    info: FieldInfo | None = None
    for part in path:
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = group_model(info.annotation)
    return info


def leaf_paths(root: type[BaseModel] = UtilitySchema, prefix: FieldPath = ()) -> list[FieldPath]:
    """Every leaf field path of the schema, in declaration order."""
    out: list[FieldPath] = []
    for name, info in root.model_fields.items():
        sub = group_model(info.annotation)
        if sub is None:
            out.append((*prefix, name))
        else:
            out.extend(leaf_paths(sub, (*prefix, name)))
    return out


def is_group(path: FieldPath) -> bool:
    """True when the path names a nested group (which may be given as one JSON object)."""
    if not path:
        return True
    info = field_at(path)
    return info is not None and group_model(info.annotation) is not None


def validate_leaf(path: FieldPath, raw: Any) -> Any:
    """Validate one value for one leaf field; raises pydantic.ValidationError."""
    info = field_at(path)
    if info is None:
        raise KeyError(path)
    annotation: Any = (
        Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    )
    return TypeAdapter(annotation).validate_python(raw)


def expectation(path: FieldPath) -> str:
    """A sentence fragment saying what the field accepts, e.g. 'an integer from 0 to 100'."""
    info = field_at(path)
    if info is None:
        return "a known utility setting"
    annotation = info.annotation
    metadata = list(info.metadata)
    if typing.get_origin(annotation) is Annotated:
        args = typing.get_args(annotation)
        annotation, extra = args[0], args[1:]
        metadata.extend(extra)
    case_insensitive = any(isinstance(m, BeforeValidator) for m in metadata)
    if typing.get_origin(annotation) is Literal:
        choices = ", ".join(str(a) for a in typing.get_args(annotation))
        case = "case-insensitive" if case_insensitive else "case-sensitive"
        return f"one of {choices} ({case})"
    if annotation is bool:
        return "a boolean (true/false)"
    if annotation is int:
        lo = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
        hi = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
        if lo is not None and hi is not None:
            return f"an integer from {lo} to {hi}"
        if lo is not None:
            return f"an integer ≥ {lo}"
        return "an integer"
    if annotation is Path:
        return "a path"
    if annotation is str:
        if any(isinstance(m, annotated_types.MinLen) and m.min_length > 0 for m in metadata):
            return "a non-empty string"
        return "a string"
    return f"a value of type {getattr(annotation, '__name__', annotation)}"


def variable_name(path: FieldPath, prefix: str, delimiter: str) -> str:
    """The canonical variable name of a field path, e.g. PIXCRAWLER_UTILITY_LOGGING__LOG_DIR."""
    return prefix + delimiter.join(p.upper() for p in path)
