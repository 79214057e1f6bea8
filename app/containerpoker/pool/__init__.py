"""The pool engine, split by layer (each module's docstring states its invariants):

- ``rows.py``: every SQL statement on the pool tables, and the atomic claim;
- ``claims.py``: claims served in batches, one transaction each;
- ``warming.py``: placing, warming, refilling and removing containers;
- ``recovery.py``: reconcile, the replacement of failed containers;
- ``service.py``: the use cases (claim, release, upload, reset, resize, init, status);
- ``models.py``: what they return.

Front ends reach it through ``Platform.pool`` (``containerpoker.platform``).
"""

from .models import Assignment, Plan, PoolStatus, ReconcileReport
from .service import Pool

__all__ = ["Assignment", "Plan", "Pool", "PoolStatus", "ReconcileReport"]
