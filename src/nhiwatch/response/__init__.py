"""One-click response: vendor actions an admin may run from an alert, through the collectors' credentials.

Off unless ``response: {enabled: true}`` (:mod:`.config`). Each action is a small class in its own module
(:mod:`.okta_apps`, :mod:`.github_pat`, :mod:`.graph_password`, :mod:`.graph_grants`,
:mod:`.salesforce_tokens`, :mod:`.slack_apps`, :mod:`.aws_sessions`): ``describe()`` says in words what it
will do to which exact object, ``execute()`` calls the vendor's documented API with the same credentials,
environment variables and base URL the vendor's collector uses. The exact object comes from the alert
(:mod:`.targets`): the integration's declared identities first, then the values its evidence events carry,
and an id that does not have the vendor's shape is never put into a URL. What an API cannot do with the
collector's credential is a manual step (:mod:`.manual`), never faked. The server adds the rest of the
security model: admin only, a confirmation bound to alert, action and user, and the audit log.
"""

from nhiwatch.response.base import Action, ActionFailed, Connection, Outcome
from nhiwatch.response.config import ResponseConfig
from nhiwatch.response.registry import ACTIONS, offered

__all__ = ["ACTIONS", "Action", "ActionFailed", "Connection", "Outcome", "ResponseConfig", "offered"]
