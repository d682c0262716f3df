"""Production: secrets and hosts must come from the environment; refuse to start without them."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, SECRET_KEY, env

DEBUG = False
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
if not env.str("PLEURA_PSEUDONYM_KEY", default=""):
    raise ImproperlyConfigured("PLEURA_PSEUDONYM_KEY must be set in production")

# HTTPS only (deploy/README.md, "HTTPS"): plain HTTP is redirected and browsers are told to come back over HTTPS
# for a year; cookies travel only over HTTPS. DJANGO_SECURE_SSL_REDIRECT=0 where the proxy redirects itself.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes (compose, Kubernetes) and Prometheus call these over plain HTTP inside the cluster: answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60)
# Sub-domains and the browsers' preload list concern the whole domain (a hospital's, usually), not Pleura:
# off unless its owner turns them on. Their deploy checks are silenced for that reason.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a proxy that terminates TLS, Django sees plain HTTP: it may trust the proxy's X-Forwarded-Proto, but
# only when that proxy always sets (or overwrites) the header; anyone could send it otherwise. Opt-in.
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Origins (scheme://host[:port]) that may POST when the proxy rewrites the Host header.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Keep database connections between requests (a connection per request cost ~15 ms and a PostgreSQL backend
# fork each: as much as a whole 100-label save); checked before reuse, so a dropped one is replaced.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("PLEURA_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
