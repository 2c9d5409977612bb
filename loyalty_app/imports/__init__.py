"""Balances carried over from another loyalty program, imported from a CSV file."""
