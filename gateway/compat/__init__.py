"""What the gateway relies on from its dependencies beyond their public API, in one place (the bottom layer)."""
