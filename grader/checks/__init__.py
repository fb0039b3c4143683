"""Helpers the criteria share, one module per concern. A criteria module imports from here,
never from another criteria module."""
