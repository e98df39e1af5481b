"""Store fixtures: ``pg_database`` (a fresh PostgreSQL database per test) is in the root
conftest, shared with every folder that runs the same test on both databases."""
