//! Following a child's output line by line as it arrives, up to a deadline (the VM's serial console, the
//! lab run on the host).

use std::{
    io::{BufRead, BufReader, Read},
    sync::mpsc,
    time::{Duration, Instant},
};

/// What a child printed before it closed its output, `stop` said enough, or the time ran out.
pub struct Followed {
    pub lines: Vec<String>,
    pub timed_out: bool,
}

/// Reads `output` line by line (lossily: a console may carry stray bytes), hands each line to `echo`,
/// and returns when the output closes, `stop` accepts a line (kept), or `timeout` passes.
pub fn lines(
    output: impl Read + Send + 'static,
    timeout: Duration,
    echo: &mut dyn FnMut(&str),
    stop: impl Fn(&str) -> bool,
) -> Followed {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(output);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            buf.clear();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                echo(&line);
                let done = stop(&line);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Followed {
                    lines,
                    timed_out: true,
                };
            }
        }
    }
    Followed {
        lines,
        timed_out: false,
    }
}
