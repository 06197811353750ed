import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from backend.accounts.oauth_server import DEMO_APPLICATION_NAME
from backend.identity.conf import provider_settings

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = (
        "Create the demo user demo/demo and register the demo's client with the local "
        "OAuth2 server (only when DEBUG is on)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--port",
            default=os.environ.get("PORT", "8000"),
            help="The port the demo is served on, for the OAuth redirect URIs.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            self.stdout.write("DEBUG is off: no demo user or OAuth client is created.")
            return
        user = self._demo_user()
        roots = [f"http://{host}:{options['port']}" for host in ("127.0.0.1", "localhost")]
        served_at = provider_settings("local").get("base_url")
        if served_at:
            # Behind a proxy the demo is where its own OAuth server is, and the
            # browser comes back to its callback there, not on the port above.
            roots.append(str(served_at).rstrip("/"))
        # The local server redirects only to the schemes it allows (https alone under
        # SECURE_SSL_REDIRECT): another would never be used, and would fail the
        # client's validation when the admin saves it.
        schemes = oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
        allowed = [root for root in roots if urlsplit(root).scheme in schemes]
        if allowed:
            register_demo_client(user, allowed)
        else:
            self.stderr.write(
                f"No OAuth client registered: the local server redirects only to "
                f"{' or '.join(schemes)} URLs, and the demo is served at {', '.join(roots)}. "
                "Set LOCAL_OAUTH_BASE_URL to the URL it is served at."
            )
        self.stdout.write(f"Demo user: {DEMO_USERNAME} / {DEMO_PASSWORD}")

    def _demo_user(self) -> Any:
        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
        )
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user


def register_demo_client(owner: Any, roots: list[str]) -> Any:
    """The local server's client for this demo, redirecting to the callback under `roots`."""
    local = provider_settings("local")
    application_model = get_application_model()
    application, _ = application_model.objects.update_or_create(
        client_id=local["client_id"],
        defaults={
            "name": DEMO_APPLICATION_NAME,
            "user": owner,
            "client_type": application_model.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": application_model.GRANT_AUTHORIZATION_CODE,
            "client_secret": local["client_secret"],
            "redirect_uris": " ".join(
                dict.fromkeys(f"{root}/api/pipelines/callback/" for root in roots)
            ),
            "algorithm": "",
        },
    )
    return application
