"""Amazon Web Services log streams."""
