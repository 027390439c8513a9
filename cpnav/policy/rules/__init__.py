"""Policy definition files (TOML). Not code.

This folder is a package only so that setuptools ships the ``*.toml`` files
with the wheel (package-data globs apply to packages, not plain folders).
"""
