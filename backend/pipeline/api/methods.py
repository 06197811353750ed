"""The HTTP methods the API's views answer: Django's, less OPTIONS.

DRF would answer OPTIONS with a description of the view, an answer the
protocol does not have. Without it, OPTIONS is a 405 like any method a view
does not serve, and `Allow` does not list it. A CORS preflight never
reaches a view (django-cors-headers answers it).
"""

from django.views import View

HTTP_METHODS = [method for method in View.http_method_names if method != "options"]
