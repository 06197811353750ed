from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import TokenProxy


class ApiToken(TokenProxy):
    """DRF's token, told by its user: its key is as good as the user's password.

    DRF's own tells a token by its key, so that the admin would print it
    in its lists, messages, confirmations and history.
    """

    class Meta:
        proxy = True
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        if self.user_id is None:  # (not yet given to anyone)
            return gettext("API token")
        return gettext("API token of %(user)s") % {"user": self.user}
