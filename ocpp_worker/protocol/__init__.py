"""OCPP-J 1.6 wire format: frames, error codes and schema validation. Pure code, no I/O."""
