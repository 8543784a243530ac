"""Exchange: the hub, party nodes and their wire protocol."""
