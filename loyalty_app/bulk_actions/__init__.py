"""Custom actions awarded in bulk from a CSV file (attendance at an in-store event...)."""
