"""Environment Configuration checks (checklist §1): validate the utility package's and the
backend's variables of an environment, and show drift between environments.

Pure functions over a `Mapping[str, str]` of variables (from a `.env` file, the process
environment, or App Settings read elsewhere); no Azure access here.
"""
