"""Server tests. Starlette's TestClient warns that it prefers ``httpx2``; the httpx it has works."""

import warnings

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
