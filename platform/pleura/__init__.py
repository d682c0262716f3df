"""Pleura's Django project: settings, URL routes, ASGI/WSGI entry points and the Celery app."""
