"""REST API: URL wiring, role permissions and the OpenAPI schema; endpoints live in each app's apis.py."""
