//! Binary COPY sent in large messages.
//!
//! The driver's `BinaryCopyInWriter` hands its buffer to the connection every 4 kB, and each
//! hand-over is one `CopyData` message, one TLS record and one socket write, with the client
//! waiting for the connection each time. A batch's values are some 10 MB (6,000 visits of
//! ~125 fields in the side table, store_write_bench; 40 MB when every pair carried both of its
//! visits), thousands of round trips through the connection for one statement.
//! [`BinaryCopy`] encodes the same binary COPY format (header, rows of length-prefixed fields,
//! trailer; each value by its own `ToSql`, checked against the column's type as the driver
//! does) into a buffer of [`CHUNK`] bytes and sends each full buffer as one message.

use std::io::Write;

use bytes::{BufMut, BytesMut};
use postgres::types::{IsNull, ToSql, Type};
use postgres::CopyInWriter;

use super::error::StoreError;

/// Bytes buffered before they go to the server as one `CopyData` message: large enough that
/// the per-message cost vanishes, small enough to keep the client's memory flat.
const CHUNK: usize = 1 << 20;

/// The fixed start of a binary COPY stream: signature, flags (no OIDs), no header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A binary `COPY … FROM STDIN BINARY` in progress; see the module documentation.
pub(crate) struct BinaryCopy<'a> {
    sink: CopyInWriter<'a>,
    types: Vec<Type>,
    buf: BytesMut,
    /// The table and what the copy is for, for error messages.
    table: String,
    action: &'static str,
}

impl<'a> BinaryCopy<'a> {
    /// Starts the stream on `sink` (from `copy_in` of a `COPY … FROM STDIN BINARY`) for rows
    /// of `types`; `action` names the copy in errors ("copy the detected pairs").
    pub(crate) fn new(
        sink: CopyInWriter<'a>,
        types: &[Type],
        table: &str,
        action: &'static str,
    ) -> BinaryCopy<'a> {
        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
        buf.put_slice(HEADER);
        BinaryCopy {
            sink,
            types: types.to_vec(),
            buf,
            table: table.to_string(),
            action,
        }
    }

    /// Encodes one row; sends the buffer once it holds [`CHUNK`] bytes.
    pub(crate) fn write(&mut self, values: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
        if values.len() != self.types.len() {
            return Err(self.value_error(
                values.len(),
                format!("{} values for {} columns", values.len(), self.types.len()),
            ));
        }
        let fields = i16::try_from(values.len())
            .map_err(|_| self.value_error(0, "more than 32767 columns".into()))?;
        self.buf.put_i16(fields);
        for (i, (value, ty)) in values.iter().zip(&self.types).enumerate() {
            let at = self.buf.len();
            self.buf.put_i32(0);
            let len = match value.to_sql_checked(ty, &mut self.buf) {
                Ok(IsNull::Yes) => -1,
                Ok(IsNull::No) => i32::try_from(self.buf.len() - at - 4)
                    .map_err(|_| self.value_error(i, "a value of 2 GB or more".into()))?,
                Err(e) => return Err(self.value_error(i, e.to_string())),
            };
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    /// Sends the rest and the trailer and ends the COPY; returns the rows the server took.
    pub(crate) fn finish(mut self) -> Result<u64, StoreError> {
        self.buf.put_i16(-1);
        self.send()?;
        let (table, action) = (std::mem::take(&mut self.table), self.action);
        self.sink
            .finish()
            .map_err(|e| StoreError::db(action, Some(&table), e))
    }

    fn send(&mut self) -> Result<(), StoreError> {
        // `write_all` then `flush`: the writer takes the whole chunk into its buffer and the
        // flush sends it as one message.
        let sent = self
            .sink
            .write_all(&self.buf)
            .and_then(|()| self.sink.flush());
        self.buf.clear();
        sent.map_err(
            |e| match e.into_inner().map(|e| e.downcast::<postgres::Error>()) {
                Some(Ok(e)) => StoreError::db(self.action, Some(&self.table), *e),
                Some(Err(other)) => self.value_error(0, other.to_string()),
                None => self.value_error(0, "the COPY stream failed".into()),
            },
        )
    }

    fn value_error(&self, field: usize, reason: String) -> StoreError {
        StoreError::CopyValue {
            table: self.table.clone(),
            field,
            reason,
        }
    }
}
