"""Flight physics: atmosphere, gravity, vehicles, propagation, targeting and the truth."""
