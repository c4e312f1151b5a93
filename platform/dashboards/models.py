"""What the dashboards need that no other app stores.

* ``PredictorCard`` moved to the registry app (``registry.models``); re-exported here for old imports.

(Invitations live in ``tenancy.models``: memberships are made only by accepting one.)
"""

from __future__ import annotations

from registry.models import PredictorCard  # noqa: F401 - moved to the registry app
