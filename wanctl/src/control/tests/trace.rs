//! Trace files: what the writer records, the reader reads back; bad lines are named.

use std::time::Duration;

use crate::{
    control::{CakeSignals, CycleInput, TraceError, TraceReader, TraceRow, TraceWriter},
    signal::{PerDirection, RttSample, SampleKind, Timestamp},
};

#[test]
fn the_reader_reads_back_what_the_writer_wrote() {
    let now = Timestamp::from_nanos(12_050_000_001);
    let samples = [
        RttSample {
            // Arrived 12.5 ms before the cycle ended, with the peer's timestamp: both survive the trace.
            at: Timestamp::from_nanos(12_037_500_001),
            rtt: Duration::from_micros(24_125),
            kind: SampleKind::Download,
            flow: 0x1a2b,
            peer_tsval: Some(u32::MAX - 1),
        },
        RttSample {
            at: now,
            rtt: Duration::from_nanos(3_000_001),
            kind: SampleKind::Handshake,
            flow: u64::MAX,
            peer_tsval: None,
        },
        RttSample {
            // Drained after the cycle's clock was read: it arrived after `now`.
            at: now.add(Duration::from_micros(1500)),
            rtt: Duration::from_millis(30),
            kind: SampleKind::Upload,
            flow: 7,
            peer_tsval: Some(12),
        },
    ];
    let cake = CakeSignals {
        drops: 3,
        ecn_marks: 1,
        backlog_bytes: 15_000,
        max_tin_delay: Duration::from_micros(4200),
    };
    let inputs = [
        CycleInput {
            now,
            samples: &samples,
            achieved_bytes: PerDirection {
                download: 590_000,
                upload: 21_000,
            },
            cake: PerDirection {
                download: Some(cake),
                upload: None,
            },
        },
        CycleInput {
            now: now.add(Duration::from_millis(50)),
            samples: &[],
            achieved_bytes: PerDirection::default(),
            cake: PerDirection::default(),
        },
    ];
    let mut writer = TraceWriter::new(Vec::new()).unwrap();
    for input in &inputs {
        writer.write_cycle(input).unwrap();
    }
    let bytes = writer.finish().unwrap();
    let rows: Vec<TraceRow> = TraceReader::new(bytes.as_slice())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (row, input) in rows.iter().zip(&inputs) {
        assert_eq!(row.now, input.now);
        assert_eq!(row.achieved_bytes, input.achieved_bytes);
        assert_eq!(row.cake, input.cake);
        assert_eq!(row.samples.len(), input.samples.len());
        for (a, b) in row.samples.iter().zip(input.samples) {
            assert_eq!(
                (a.kind, a.flow, a.peer_tsval),
                (b.kind, b.flow, b.peer_tsval)
            );
            assert!(a.rtt.abs_diff(b.rtt) <= Duration::from_nanos(1));
            // Arrival times keep microsecond precision (what the one-way delay needs).
            assert!(a.at.as_nanos().abs_diff(b.at.as_nanos()) < 1000);
        }
    }
}

fn error(body: &str) -> String {
    let text = format!("# comment\n{}\n{body}\n", crate::control::trace::HEADER);
    let mut row = TraceRow::default();
    let mut reader = TraceReader::new(text.as_bytes());
    match reader.read_into(&mut row) {
        Err(e @ TraceError::Field { .. }) => e.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_lines_are_named_by_line_and_column() {
    assert_eq!(
        error("0.05,NaN:active,0,0,,"),
        "trace line 3, column rtt_samples: `NaN` must be a finite, non-negative RTT in ms"
    );
    assert!(error("0.05,-4,0,0,,").contains("non-negative"));
    assert!(error("0.05,inf,0,0,,").contains("finite"));
    assert!(error("0.05,20:ufo,0,0,,").contains("`ufo` is not a sample kind"));
    assert!(error("0.05,20:upload:1:4294967296:0,0,0,,").contains("is not a TCP timestamp"));
    assert!(error("0.05,20:upload:1:7:x3,0,0,,").contains("`x3` is not an age in µs"));
    assert!(error("0.05,20,-1,0,,").starts_with("trace line 3, column download_bytes"));
    assert!(error("0.05,20,0,0,1/2/3,").starts_with("trace line 3, column download_cake"));
    assert!(error("x,20,0,0,,").starts_with("trace line 3, column time_s"));
}

#[test]
fn a_trace_without_header_is_refused() {
    let mut row = TraceRow::default();
    let err = TraceReader::new("0.05,20,0,0,,\n".as_bytes())
        .read_into(&mut row)
        .unwrap_err();
    assert!(matches!(err, TraceError::Header { line: 1 }), "{err}");
}

#[test]
fn optional_parts_take_their_defaults() {
    let text = format!(
        "{}\n0.05,20;21.5:upload;22:download:ff,100,200\n",
        crate::control::trace::HEADER
    );
    let row = TraceReader::new(text.as_bytes()).next().unwrap().unwrap();
    let flows: Vec<_> = row.samples.iter().map(|s| (s.kind, s.flow)).collect();
    assert_eq!(
        flows,
        [
            (SampleKind::Active, 0),
            (SampleKind::Upload, 1),
            (SampleKind::Download, 255)
        ]
    );
    assert_eq!(row.cake, PerDirection::default());
}
