"""The sandbox's routes, one module per resource family, each a module-level `router`.

public (health, slow route) · auth · projects · datasets · jobs · notifications · storage ·
exports · admin (`/_sandbox/*`). Routes read the app's state through `runtime.Runtime`; the
routes that need the API token depend on `auth.current_user`. Route functions are described by
comments, not docstrings: FastAPI would publish a docstring in the OpenAPI document.
"""
