"""What can go wrong while obtaining or comparing OpenAPI documents."""

from __future__ import annotations


class ContractError(Exception):
    """Something needed for the contract checks could not be obtained (reported as ERROR)."""


class SchemaUnreachable(ContractError):
    """The target did not answer (connection refused, timeout, DNS...)."""


class SchemaGenerationError(ContractError):
    """Importing the app in the target's interpreter did not produce a schema."""


class MissingSettings(SchemaGenerationError):
    """The app refused to import because settings were missing or invalid (all of them named)."""

    def __init__(self, message: str, missing: list[str], invalid: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.invalid = invalid


class ImportLeak(SchemaGenerationError):
    """The baseline import picked up files of the current checkout instead of the base ref's."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class InvalidSchema(ContractError):
    """A document was obtained but is not a valid OpenAPI 3.0 / 3.1 document (reported as FAIL)."""
