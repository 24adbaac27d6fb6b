"""The publish decision, the versioned atomic store and the data card."""
