//! [`Duplex`]: two fifos as one two-way channel.

use std::path::Path;
use std::time::Duration;

use multiproc_core::Deadline;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::fifo::Fifo;
use crate::reader::FifoReader;
use crate::writer::FifoWriter;

/// Two fifos used as one two-way channel between two programs: this side reads `read_path`
/// and writes `write_path`; the peer the other way round.
#[derive(Debug)]
pub struct Duplex {
    /// Where the peer's messages arrive.
    pub reader: FifoReader,
    /// Where this side's messages go.
    pub writer: FifoWriter,
    _fifos: [Fifo; 2],
}

/// The two fifos of a duplex, created where missing (mode 0600), read side first.
fn fifos(read_path: &Path, write_path: &Path) -> Result<(Fifo, Fifo), Error> {
    Ok((
        Fifo::create_or_open(read_path, 0o600)?,
        Fifo::create_or_open(write_path, 0o600)?,
    ))
}

impl Duplex {
    /// Creates the two fifos if needed (mode 0600) and opens both ends, waiting as long as it
    /// takes for the peer.
    ///
    /// Works whichever program starts first: both sides create what is missing, and both open
    /// the two fifos in the same order — sorted by path — so neither waits on an open the other
    /// will only make later. The side that created a fifo removes it when dropped.
    pub fn connect(
        read_path: impl AsRef<Path>,
        write_path: impl AsRef<Path>,
    ) -> Result<Duplex, Error> {
        Self::connect_until(read_path.as_ref(), write_path.as_ref(), Deadline::Forever)
    }

    /// [`connect`](Self::connect), waiting at most `timeout` for the peer ([`Error::Timeout`]).
    pub fn connect_timeout(
        read_path: impl AsRef<Path>,
        write_path: impl AsRef<Path>,
        timeout: Duration,
    ) -> Result<Duplex, Error> {
        Self::connect_until(
            read_path.as_ref(),
            write_path.as_ref(),
            Deadline::after(timeout),
        )
    }

    fn connect_until(rp: &Path, wp: &Path, deadline: Deadline) -> Result<Duplex, Error> {
        let (rf, wf) = fifos(rp, wp)?;
        let (reader, writer) = if rp <= wp {
            let r = rf.open_reader_until(deadline)?;
            (r, wf.open_writer_until(deadline)?)
        } else {
            let w = wf.open_writer_until(deadline)?;
            (rf.open_reader_until(deadline)?, w)
        };
        Ok(Duplex {
            reader,
            writer,
            _fifos: [rf, wf],
        })
    }

    /// Sets the largest message sent or accepted, both ways (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.reader.set_max_message(max);
        self.writer.set_max_message(max);
    }

    /// Sends a value to the peer (see [`FifoWriter::send`]).
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.writer.send(value)
    }

    /// Sends bytes to the peer as one message.
    pub fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.writer.send_bytes(buf)
    }

    /// Receives a value from the peer, waiting as long as it takes; `Ok(None)` when it closed
    /// its end.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.reader.recv()
    }

    /// [`recv`](Self::recv) without waiting.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.reader.try_recv()
    }

    /// [`recv`](Self::recv), giving up with [`Error::Timeout`] after `timeout`.
    pub fn recv_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<T>, Error> {
        self.reader.recv_timeout(timeout)
    }

    /// Receives bytes from the peer; `Ok(None)` when it closed its end.
    pub fn recv_bytes(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.reader.recv_bytes()
    }

    /// Whether a message (or the end of the stream) arrives within `timeout`.
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.reader.poll_timeout(timeout)
    }
}
