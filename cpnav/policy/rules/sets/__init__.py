"""Versioned CP rule sets, one TOML file each (a package only for package-data)."""
