"""The integration inventory, kept as code: the YAML model, loading with located errors, and resolution."""

from nhiwatch.inventory.load import load_inventory
from nhiwatch.inventory.model import Integration, Inventory

__all__ = ["Integration", "Inventory", "load_inventory"]
