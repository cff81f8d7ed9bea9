//! JSON log lines off the calling thread: a line is appended to a shared buffer (one short lock
//! and a copy), and a writer thread writes whatever has gathered to stderr in one `write`,
//! within [`FLUSH_AFTER`] of the first line. A call no longer waits for a system call per log
//! line (the gateway writes one access-log line per call).
//!
//! Nothing is dropped: when the buffer holds [`MAX_BUFFERED`] bytes (stderr blocked), writers
//! wait for room — backpressure, as a direct write would block. [`BufferedStderr::flush`]
//! (called by the telemetry guard at shutdown) writes what is left.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How long the first line of a batch waits for others before the batch is written.
pub const FLUSH_AFTER: Duration = Duration::from_millis(5);
/// A batch this large is written at once.
const FLUSH_AT: usize = 64 * 1024;
/// Writers wait while this much is waiting to be written.
pub const MAX_BUFFERED: usize = 4 * 1024 * 1024;

struct State {
    pending: Vec<u8>,
    /// The writer thread is writing a batch (taken out of `pending`).
    writing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when `pending` becomes non-empty or grows past [`FLUSH_AT`].
    filled: Condvar,
    /// Signalled when a batch has been written.
    drained: Condvar,
}

/// A [`tracing_subscriber::fmt::MakeWriter`] whose lines reach stderr through a writer thread.
#[derive(Clone)]
pub struct BufferedStderr {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BufferedStderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedStderr").finish_non_exhaustive()
    }
}

impl BufferedStderr {
    /// Starts the writer thread (it lives as long as the process).
    pub fn start() -> std::io::Result<Self> {
        Self::start_with(std::io::stderr())
    }

    fn start_with<W: Write + Send + 'static>(mut out: W) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { pending: Vec::with_capacity(FLUSH_AT), writing: false }),
            filled: Condvar::new(),
            drained: Condvar::new(),
        });
        let writer = shared.clone();
        std::thread::Builder::new().name("log-writer".to_owned()).spawn(move || {
            let mut batch = Vec::with_capacity(FLUSH_AT);
            loop {
                {
                    let mut state = writer.state.lock();
                    while state.pending.is_empty() {
                        writer.filled.wait(&mut state);
                    }
                    if state.pending.len() < FLUSH_AT {
                        // Let the lines of the next few milliseconds join this batch.
                        let _ = writer.filled.wait_for(&mut state, FLUSH_AFTER);
                    }
                    std::mem::swap(&mut batch, &mut state.pending);
                    state.writing = true;
                }
                // A log that cannot be written has nowhere to report it.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                batch.clear();
                if batch.capacity() > MAX_BUFFERED {
                    batch.shrink_to(FLUSH_AT);
                }
                writer.state.lock().writing = false;
                writer.drained.notify_all();
            }
        })?;
        Ok(Self { shared })
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.shared.state.lock();
        while state.pending.len() >= MAX_BUFFERED {
            self.shared.drained.wait(&mut state);
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        if was_empty || state.pending.len() >= FLUSH_AT {
            self.shared.filled.notify_one();
        }
    }

    /// Waits until every line appended so far has been written (at most `timeout`).
    pub fn flush(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        while !state.pending.is_empty() || state.writing {
            self.shared.filled.notify_one();
            if self.shared.drained.wait_until(&mut state, deadline).timed_out() {
                return;
            }
        }
    }
}

/// One event's writer: the formatter writes the whole line, which is appended at once.
#[derive(Debug)]
pub struct LineWriter<'a> {
    target: &'a BufferedStderr,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.target.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { target: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_whole_and_in_order() {
        let sink = Sink::default();
        let log = BufferedStderr::start_with(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let line = format!("{{\"thread\":{t},\"line\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 300));
                        log.make_writer_line(line.as_bytes());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        log.flush(Duration::from_secs(30));
        let written = String::from_utf8(sink.0.lock().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in written.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = value["thread"].as_u64().unwrap() as usize;
            assert_eq!(value["line"].as_u64().unwrap() as usize, next[t], "lines of one thread keep their order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4], "no line lost");
    }

    /// A sink that holds every write until released: the buffer fills and writers wait.
    #[derive(Clone)]
    struct Gate {
        open: Arc<(Mutex<bool>, Condvar)>,
        seen: Arc<Mutex<usize>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (lock, cvar) = &*self.open;
            let mut open = lock.lock();
            while !*open {
                cvar.wait(&mut open);
            }
            *self.seen.lock() += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_holds_writers_back_instead_of_dropping_lines() {
        let gate = Gate { open: Arc::default(), seen: Arc::default() };
        let log = BufferedStderr::start_with(gate.clone()).unwrap();
        let line = vec![b'x'; 1024];
        let total = MAX_BUFFERED / 1024 * 3;
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = log.clone();
        let producer = std::thread::spawn(move || {
            for _ in 0..total {
                writer.make_writer_line(&line);
            }
            done_tx.send(()).unwrap();
        });
        // Stuck output: the producer cannot have appended everything (the buffer is bounded).
        assert!(done_rx.recv_timeout(Duration::from_millis(300)).is_err(), "writers must wait for room");
        assert!(log.shared.state.lock().pending.len() <= MAX_BUFFERED);
        let (lock, cvar) = &*gate.open;
        *lock.lock() = true;
        cvar.notify_all();
        producer.join().unwrap();
        log.flush(Duration::from_secs(30));
        assert_eq!(*gate.seen.lock(), total * 1024, "every byte written once released");
    }

    impl BufferedStderr {
        fn make_writer_line(&self, line: &[u8]) {
            use tracing_subscriber::fmt::MakeWriter;
            self.make_writer().write_all(line).unwrap();
        }
    }
}
