from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path, re_path
from oauth2_provider import urls as oauth2_urls

from backend.accounts.oauth_server import AuthorizationView, UserInfoView, application_in_admin
from backend.accounts.views import throttled_login_page
from backend.pipeline.api.exceptions import unrouted
from backend.pipeline.api.openapi import SchemaView

from .frontend import frontend

#: The demo's OAuth server: its endpoints alone. Registering applications
#: is left to the admin and `demo_setup`: django-oauth-toolkit's own pages
#: would let any user add a client of any grant (the password grant
#: included, a second way to guess passwords). An application's own URL
#: leads to its admin page.
oauth2_pages = [
    *oauth2_urls.base_urlpatterns,
    path("applications/<int:pk>/", application_in_admin, name="detail"),
]

urlpatterns = [
    # Before the admin's own: its login page, counted with the others.
    path("admin/login/", throttled_login_page(admin.site.login)),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        throttled_login_page(LoginView.as_view(template_name="accounts/login.html")),
        name="login",
    ),
    path("o/userinfo/", UserInfoView.as_view(), name="oauth-userinfo"),
    path("o/authorize/", AuthorizationView.as_view(), name="oauth-authorize"),
    path("o/", include((oauth2_pages, "oauth2_provider"))),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/auth/", include("backend.accounts.urls")),
    path("api/", include("backend.pipeline.api.urls")),
    re_path(r"^api/", unrouted),
    # Not static/: a missing file of Django's (collectstatic not run) is a
    # 404, not the app's page served as the admin's stylesheet.
    re_path(r"^(?!api/|admin/|accounts/|o/|static/)(?P<path>.*)$", frontend, name="frontend"),
]

handler400 = "backend.pipeline.api.exceptions.bad_request"
handler404 = "backend.pipeline.api.exceptions.not_found"
handler500 = "backend.pipeline.api.exceptions.server_error"
