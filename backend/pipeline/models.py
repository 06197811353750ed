"""The database record of a flow (see `store.DatabaseStore`)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from .state import ACTIVE, MAX_RETURN_TO_LENGTH, STATUSES


class Flow(models.Model):
    """One run of a pipeline: its position, its bound state, who owns it.

    `version` is the compare-and-set token: every write is a conditional
    UPDATE on it, so concurrent writers cannot both win.

    On PostgreSQL the table is filled to 70% of each page (migration 0004):
    a step's new version of the row then fits beside the old one, and is
    written without touching an index.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline = models.CharField(max_length=64)
    provider = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="pipeline_flows",
    )
    token_hash = models.CharField(max_length=64, blank=True)
    #: Hash of the owner key of the session that started the flow.
    session_hash = models.CharField(max_length=64, blank=True)
    step_index = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    signature = models.CharField(max_length=64)
    config = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    child = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    provider_model_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=[(s, s) for s in STATUSES], default=STATUSES[0]
    )
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    errors = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    #: A failed flow's `step.path` as it stood when it failed (`FlowState.final_path`).
    final_path = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    return_to = models.CharField(max_length=MAX_RETURN_TO_LENGTH, blank=True)
    callback_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    #: Not indexed: it moves on with every step, so an index would cost each
    #: write (and on PostgreSQL make every update a non-HOT one), while only
    #: the periodic purge (`clearpipelines`) looks for expired flows.
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ("-created_at",)
        indexes = [
            # A script client's flow, by the hash of its flow token (a plain
            # index: lookups are by equality only).
            models.Index(fields=["token_hash"], name="flow_token"),
            # get_for_request: a session's latest flow of one pipeline type.
            models.Index(
                fields=["session_hash", "pipeline", "-created_at"], name="flow_session_latest"
            ),
            # The limit on unfinished flows, counted at every start: only the
            # active ones are indexed, however many an owner has finished.
            models.Index(
                fields=["session_hash"],
                condition=models.Q(status=ACTIVE, user__isnull=True),
                name="flow_active_by_session",
            ),
            models.Index(
                fields=["user"],
                condition=models.Q(status=ACTIVE, user__isnull=False),
                name="flow_active_by_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline}/{self.provider} {self.id.hex} ({self.status})"


class Callback(models.Model):
    """A callback state a flow issued for a browser redirect (OAuth `state`).

    Kept after use, so that a replayed state is told apart from an unknown
    one; deleted with its flow.
    """

    key_hash = models.CharField(max_length=64, primary_key=True)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="callbacks")
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"callback of {self.flow_id}"
