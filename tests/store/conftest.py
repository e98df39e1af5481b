"""Store fixtures: the real validator; a fresh PostgreSQL database per test (``pg_database``)
comes from the root conftest."""
