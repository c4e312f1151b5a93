"""tenancy: organisations, their members and roles. Every tenant-owned row points at an Organisation."""
