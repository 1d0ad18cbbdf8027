"""Internal helpers shared by every fijibridge package (numpy only, no Java, no torch)."""
