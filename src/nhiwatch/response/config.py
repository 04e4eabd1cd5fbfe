"""``response:`` in ``nhiwatch.yaml``: whether one-click actions are offered, and which.

Off by default. ``actions`` is an optional allow list of action ids (default: every action); an unknown
id is a :class:`~nhiwatch.errors.ConfigError` at load time, like every other typo in the file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ResponseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    actions: tuple[str, ...] | None = None  # allow list; None: every action
    confirm_seconds: int = Field(default=120, ge=15, le=900)  # how long a confirmation stays valid
    slack_enterprise_id: str | None = Field(default=None, pattern=r"^E[A-Z0-9]{2,20}$")

    @field_validator("actions")
    @classmethod
    def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        from nhiwatch.response.registry import ACTIONS

        if v is not None:
            unknown = sorted(set(v) - set(ACTIONS))
            if unknown:
                raise ValueError(f"unknown action(s) {', '.join(unknown)}; known: {', '.join(ACTIONS)}")
        return v

    def allows(self, action: str) -> bool:
        return self.enabled and (self.actions is None or action in self.actions)
