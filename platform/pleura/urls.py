"""Root URL routes."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Pleura administration"
admin.site.site_title = "Pleura"
admin.site.index_title = "Lung-ultrasound studies, labels and models"

urlpatterns = [
    path("", admin.site.urls),
]
