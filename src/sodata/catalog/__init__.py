"""The service catalog and device types with their profiles (seeded at every start)."""
