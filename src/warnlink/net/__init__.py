"""Network plumbing: links with injected latency and faults."""
