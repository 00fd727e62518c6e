//! Authentication: tokens, password hashes and the failed-login throttle.

pub mod password;
pub mod throttle;
pub mod token;
