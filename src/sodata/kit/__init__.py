"""Shared plumbing: database session, wire schemas, errors, paging, sorting."""
