"""Signed frame files for servers without the WSGI fast path (runserver, daphne, the test server)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase

from .frame_urls import PREFIX, django_media_root, django_signing_key, resolve


def signed_frame(request: HttpRequest, name: str) -> HttpResponseBase:
    found = resolve(django_signing_key(), django_media_root(), PREFIX + name, request.META.get("QUERY_STRING", ""),
                    request.headers.get("If-None-Match", ""))
    status = int(found.status.split()[0])
    response: HttpResponseBase = (FileResponse(found.path.open("rb"), status=status) if found.path is not None
                                  else HttpResponse(found.content or b"", status=status))
    for header, value in found.headers:
        response[header] = value
    return response
