"""GitHub, Slack and Google, with their real endpoints.

Each is available once its client id and secret are set (`GITHUB_CLIENT_ID`
and `GITHUB_CLIENT_SECRET`, and so on; see the README).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

from .oauth2 import OAuth2Provider, external_id, talking_to_provider


class GitHubProvider(OAuth2Provider):
    key = "github"
    name = _("GitHub")
    oauth_authorize_url = "https://github.com/login/oauth/authorize"
    oauth_access_token_url = "https://github.com/login/oauth/access_token"
    oauth_scopes = ("read:user", "user:email")
    user_url = "https://api.github.com/user"
    emails_url = "https://api.github.com/user/emails"

    def get_user(self, token: dict[str, Any]) -> dict[str, Any]:
        user = super().get_user(token)
        if not user["email"]:
            # A private email is left out of /user; user:email lets us ask.
            with talking_to_provider():
                user["email"] = _primary_email(self.get_json(self.emails_url, token))
        return user

    def parse_user(self, described: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": external_id(described["id"]),
            "email": described.get("email"),
            "name": described.get("name") or described.get("login"),
            "login": described.get("login"),
        }


class SlackProvider(OAuth2Provider):
    """Sign in with Slack (OpenID Connect)."""

    key = "slack"
    name = _("Slack")
    oauth_authorize_url = "https://slack.com/openid/connect/authorize"
    oauth_access_token_url = "https://slack.com/api/openid.connect.token"
    oauth_scopes = ("openid", "email", "profile")
    user_url = "https://slack.com/api/openid.connect.userInfo"

    def parse_user(self, described: dict[str, Any]) -> dict[str, Any]:
        user = super().parse_user(described)
        user["team"] = described.get("https://slack.com/team_id")
        return user


class GoogleProvider(OAuth2Provider):
    key = "google"
    name = _("Google")
    oauth_authorize_url = "https://accounts.google.com/o/oauth2/v2/auth"
    oauth_access_token_url = "https://oauth2.googleapis.com/token"
    oauth_scopes = ("openid", "email", "profile")
    user_url = "https://openidconnect.googleapis.com/v1/userinfo"


def _primary_email(emails: Any) -> str | None:
    """The primary, verified address among GitHub's list of them."""
    if not isinstance(emails, list):
        raise ValueError("the emails are not a list")
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") and entry.get("verified"):
            return str(entry["email"])
    return None
