"""Security and reliability: access control, input limits, fuzzing, properties and faults."""
