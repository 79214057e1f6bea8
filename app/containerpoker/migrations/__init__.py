"""Schema migrations (Alembic). ``Store`` applies them when it opens a database; operators can
run ``containerpoker db upgrade``. A new migration is a file in ``versions/`` named
``NNNN_what.py`` whose ``down_revision`` is the previous one (``0003_lifecycle.py`` is a model),
written together with the change to ``store.py``: a test compares the two."""
