//! front end (placeholder).
