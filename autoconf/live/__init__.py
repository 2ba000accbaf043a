"""Live auto-confrontations: the shared playhead and its event stream."""
