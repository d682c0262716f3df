"""Fixtures of the deployment tests (the helpers live in nginx_site.py)."""

from tests.deploy.nginx_site import run_nginx  # noqa: F401  (nginx in front of a test server)
