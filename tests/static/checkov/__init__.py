"""checkov loads external checks only from a package."""
