"""Throwaway PostgreSQL databases for the benchmarks that run the platform (api, dashboard, finetune)."""

from __future__ import annotations


def create_database(admin_url: str, name: str, drop: bool = False) -> None:
    """(Re)create database ``name`` on the server of ``admin_url``; with ``drop`` only drop it."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')
