"""Backups, restore and moving hosts: verified copies of the database, on the box, on a stick, off-site."""
