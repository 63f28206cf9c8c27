//! SQLite (placeholder).
