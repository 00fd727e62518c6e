//! `/communications`: create, read, list, validation, idempotency.
