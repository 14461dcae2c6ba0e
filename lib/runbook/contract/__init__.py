"""API contract checks: the OpenAPI document and its docs pages (checklist §3), and backward
compatibility of the API against a baseline (checklist §4)."""

from runbook.contract.checks import (
    check_compatibility,
    contract_checks,
    contract_error_checks,
    import_schema_check,
    schema_checks,
)
from runbook.contract.diff import ContractDiff, Difference, diff_schemas, list_operations
from runbook.contract.params import AcceptedChange, BaselineSource, ChangeKind, ContractParams
from runbook.contract.schema_source import (
    ContractError,
    InvalidSchema,
    SchemaGenerationError,
    SchemaUnreachable,
    fetch_schema,
    generate_schema,
    generate_schema_at_ref,
    load_baseline,
    load_schema_file,
    validate_openapi,
)

__all__ = [
    "AcceptedChange",
    "BaselineSource",
    "ChangeKind",
    "ContractDiff",
    "ContractError",
    "ContractParams",
    "Difference",
    "InvalidSchema",
    "SchemaGenerationError",
    "SchemaUnreachable",
    "check_compatibility",
    "contract_checks",
    "contract_error_checks",
    "diff_schemas",
    "fetch_schema",
    "generate_schema",
    "generate_schema_at_ref",
    "import_schema_check",
    "list_operations",
    "load_baseline",
    "load_schema_file",
    "schema_checks",
    "validate_openapi",
]
