//! The WebSocket frames one by one: errors, topic permissions, presence, typing, caps.
