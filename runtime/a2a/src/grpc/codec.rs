//! The protobuf codec of the generated gRPC service and client (`build.rs` sets
//! `codec_path` to [`A2aCodec`]): prost encoding and decoding as `tonic_prost::ProstCodec`
//! does, except that a message that does not decode is the caller's error, not the server's:
//! `INVALID_ARGUMENT` with one `ErrorInfo` (reason `INVALID_PARAMS`, as A2A 1.0 §5.4 maps
//! validation errors), where prost's codec answers `INTERNAL`.
//!
//! The bearer check runs before any message is decoded (`admit.rs`), so an unauthenticated
//! caller gets `UNAUTHENTICATED` whatever its body. A message over the body limit is refused
//! by tonic before it reaches the codec, with `OUT_OF_RANGE` naming the size and the limit.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use crate::error::A2aError;

/// Prost encoding of `T`, decoding of `U` (see the module doc for how errors differ).
#[derive(Debug, Clone)]
pub(crate) struct A2aCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for A2aCodec<T, U> {
    fn default() -> Self {
        A2aCodec(PhantomData)
    }
}

impl<T, U> Codec for A2aCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = A2aDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::default())
    }

    fn decoder(&mut self) -> A2aDecoder<U> {
        A2aDecoder(ProstCodec::<T, U>::raw_decoder(BufferSettings::default()))
    }
}

/// Prost's decoder of `U` with its failures mapped to `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub(crate) struct A2aDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for A2aDecoder<U> {
    type Item = U;
    type Error = Status;

    /// One message from `buf`. Errors: bytes that are not a `U` in protobuf binary form:
    /// `INVALID_ARGUMENT` naming the message type and what prost found wrong
    /// (`` `GetTaskRequest` message does not decode: failed to decode Protobuf message: … ``).
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|st| {
            let ty = std::any::type_name::<U>();
            let ty = ty.rsplit("::").next().unwrap_or(ty);
            super::convert::status(&A2aError::InvalidParams(format!(
                "`{ty}` message does not decode: {}",
                st.message()
            )))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
