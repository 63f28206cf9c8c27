//! The smoltcp driver.
