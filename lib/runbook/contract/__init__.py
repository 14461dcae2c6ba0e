"""API contract checks: the OpenAPI document and its docs pages (checklist §3), and backward
compatibility of the API against a baseline (checklist §4).
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "AcceptedChange": "runbook.contract.params",
    "BaselineSource": "runbook.contract.params",
    "ChangeKind": "runbook.contract.params",
    "ContractDiff": "runbook.contract.diff",
    "ContractError": "runbook.contract.errors",
    "ContractParams": "runbook.contract.params",
    "Difference": "runbook.contract.diff",
    "ImportLeak": "runbook.contract.errors",
    "ImportedSchema": "runbook.contract.app_import",
    "InvalidSchema": "runbook.contract.errors",
    "MissingSettings": "runbook.contract.errors",
    "PathRewrite": "runbook.contract.params",
    "SchemaGenerationError": "runbook.contract.errors",
    "SchemaUnreachable": "runbook.contract.errors",
    "check_compatibility": "runbook.contract.checks",
    "contract_checks": "runbook.contract.checks",
    "contract_error_checks": "runbook.contract.checks",
    "diff_schemas": "runbook.contract.diff",
    "fetch_schema": "runbook.contract.schema_source",
    "generate_schema": "runbook.contract.schema_source",
    "generate_schema_at_ref": "runbook.contract.schema_source",
    "generate_schema_info": "runbook.contract.schema_source",
    "import_schema_check": "runbook.contract.checks",
    "interpreter_argv": "runbook.contract.app_import",
    "is_public": "runbook.contract.checks",
    "list_operations": "runbook.contract.diff",
    "load_baseline": "runbook.contract.schema_source",
    "load_baseline_info": "runbook.contract.schema_source",
    "load_schema_file": "runbook.contract.schema_source",
    "schema_checks": "runbook.contract.checks",
    "validate_openapi": "runbook.contract.schema_source",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
