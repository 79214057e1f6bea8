"""Schema migrations (Alembic). ``Store`` applies them when it opens a database; operators can
run ``containerpoker db upgrade``. A new migration: ``containerpoker db revision -m "what"``."""
