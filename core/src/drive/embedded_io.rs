//! The embedded-io driver.
