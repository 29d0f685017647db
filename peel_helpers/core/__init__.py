"""The base layer: errors, paths, the 43 forces, reporting periods and display text.

Nothing here reads data; every other layer builds on it.
"""
