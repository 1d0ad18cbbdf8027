"""Thin command-line layer: ``fijibridge <command> …`` (see :mod:`fijibridge.cli.main`)."""
