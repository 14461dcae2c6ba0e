"""The sandbox's routes, one module per resource family, each with a function that builds its
router around the app's `SandboxRuntime` (the routes close over it: no per-request lookup).

public (health, the slow route) · auth (the token check, /me) · projects · datasets · jobs ·
notifications · storage · exports · admin (`/_sandbox/*`). The routers that need the API token
take `authed`, the dependency list `auth.token_required` builds. Route functions are described
by comments, not docstrings: FastAPI would publish a docstring in the OpenAPI document.
"""
