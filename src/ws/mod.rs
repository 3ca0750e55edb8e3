//! A small WebSocket server transport (RFC 6455), written for screens.
//!
//! Why not tungstenite: it copies every message into a per-connection
//! write buffer that keeps the capacity of the largest message sent (a
//! hall snapshot), and allocates a read chunk per connection. Ten thousand
//! idle screens then cost tens of megabytes. Here a server frame is encoded
//! once, header and payload together, and the same bytes are written to
//! every subscriber's socket; reading is a streaming decoder that keeps no
//! buffer between messages, and skips (rather than buffers) what is too big.
//!
//! - `handshake`: checks an upgrade request and answers it;
//! - `codec`: server frames out, client frames in.

mod codec;
mod handshake;

pub use codec::{Decoder, Incoming, ProtocolError, close_frame, ping_frame, pong_frame, text_frame, text_payload};
pub use handshake::{HandshakeError, accept_key, check_upgrade};
