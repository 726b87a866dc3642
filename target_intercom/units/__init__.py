"""One unit per Intercom object: how its records are mapped, looked up and written."""
