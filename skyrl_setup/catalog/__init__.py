"""The catalog every stage reads: backend profiles, SkyRL releases, and where their data files live (data)."""
